//! The label GeoTIFF of a real segmentation is a cloud-optimised GeoTIFF (GDAL's validator, from
//! python3-gdal, which gdal-bin depends on) whose overviews, as GDAL reads them, are the 2×2 modes
//! of the labels level by level.

use super::{assert_valid_cog, gdal_pixels, gdalinfo, segment};

const NODATA: u8 = 255;

/// Each pixel the most frequent non-nodata value of its 2×2 block (smaller at an odd edge), the
/// smallest on a tie, nodata only for a block of nodata.
fn mode_overview(src: &[u8], width: usize, height: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for y in 0..height.div_ceil(2) {
        for x in 0..width.div_ceil(2) {
            let mut votes = [0u32; 256];
            for (px, py) in [(2 * x, 2 * y), (2 * x + 1, 2 * y), (2 * x, 2 * y + 1)]
                .into_iter()
                .chain([(2 * x + 1, 2 * y + 1)])
            {
                if px < width && py < height && src[py * width + px] != NODATA {
                    votes[usize::from(src[py * width + px])] += 1;
                }
            }
            let best = (0..256).rev().max_by_key(|&c| votes[c]).unwrap();
            out.push(if votes[best] == 0 { NODATA } else { best as u8 });
        }
    }
    out
}

#[test]
fn the_label_geotiff_is_a_cog_with_mode_overviews() {
    let (_dir, out) = segment("sample_geotiff.tif", &["--k", "6", "--smooth", "0"]);
    assert_valid_cog(&out);
    let info = gdalinfo(&out);
    assert_eq!(info["metadata"]["IMAGE_STRUCTURE"]["LAYOUT"], "COG");
    let band = &info["bands"][0];
    assert_eq!(
        band["overviews"],
        serde_json::json!([{"size": [450, 450]}, {"size": [225, 225]}])
    );
    let (mut w, mut h) = (900, 900);
    let mut labels = gdal_pixels(&out, None);
    assert_eq!(labels.len(), w * h);
    assert!(
        labels.iter().any(|&l| l != labels[0]),
        "a segmentation has several classes"
    );
    for index in 0..2 {
        labels = mode_overview(&labels, w, h);
        (w, h) = (w.div_ceil(2), h.div_ceil(2));
        assert_eq!(gdal_pixels(&out, Some(index)), labels, "overview {index}");
    }
}
