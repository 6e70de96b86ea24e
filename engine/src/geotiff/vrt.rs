//! A GDAL VRT mosaic of label GeoTIFFs (the parts of a raster labelled in parts), written so
//! that it keeps what `gdalbuildvrt` drops (class names, the manifest, the band description)
//! and places every source at whole pixel offsets computed once (no resampling from a rounded
//! origin).

use super::GeoTransform;
use super::directory::escape_xml;
use crate::labels::{LegendEntry, NODATA};

/// One label GeoTIFF of the mosaic.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// Path relative to the VRT's folder.
    pub file: String,
    pub width: u32,
    pub height: u32,
    /// Where its first pixel lies in the mosaic.
    pub x: u32,
    pub y: u32,
}

/// The mosaic: its size and place, its legend and metadata, and its sources.
#[derive(Debug, Clone)]
pub struct Mosaic<'a> {
    pub width: u32,
    pub height: u32,
    pub transform: GeoTransform,
    /// The coordinate system as GDAL reads it (`EPSG:n`).
    pub srs: String,
    pub legend: &'a [LegendEntry],
    /// Dataset metadata (`CLASS_i_NAME`, `MAPSEG_MANIFEST`).
    pub metadata: Vec<(String, String)>,
    pub sources: Vec<Source>,
}

impl Mosaic<'_> {
    /// The VRT's XML.
    pub fn to_xml(&self) -> String {
        let mut x = String::new();
        x.push_str(&format!(
            "<VRTDataset rasterXSize=\"{}\" rasterYSize=\"{}\">\n",
            self.width, self.height
        ));
        x.push_str(&format!("  <SRS>{}</SRS>\n", escape_xml(&self.srs)));
        let t = self.transform.0;
        x.push_str(&format!(
            "  <GeoTransform>{:?}, {:?}, {:?}, {:?}, {:?}, {:?}</GeoTransform>\n",
            t[0], t[1], t[2], t[3], t[4], t[5]
        ));
        x.push_str("  <Metadata>\n");
        for (key, value) in &self.metadata {
            x.push_str(&format!(
                "    <MDI key=\"{}\">{}</MDI>\n",
                escape_xml(key),
                escape_xml(value)
            ));
        }
        x.push_str("  </Metadata>\n");
        x.push_str("  <VRTRasterBand dataType=\"Byte\" band=\"1\">\n");
        x.push_str("    <Description>class</Description>\n");
        x.push_str(&format!("    <NoDataValue>{NODATA}</NoDataValue>\n"));
        x.push_str("    <ColorInterp>Palette</ColorInterp>\n");
        x.push_str("    <CategoryNames>\n");
        for entry in self.legend {
            x.push_str(&format!(
                "      <Category>{}</Category>\n",
                escape_xml(&entry.name)
            ));
        }
        x.push_str("    </CategoryNames>\n");
        x.push_str("    <ColorTable>\n");
        for i in 0..256 {
            let [r, g, b] = self.legend.get(i).map_or([0, 0, 0], |e| e.colour);
            // Nodata is transparent, as GDAL reads the GeoTIFF's palette.
            let a = if i == usize::from(NODATA) { 0 } else { 255 };
            x.push_str(&format!(
                "      <Entry c1=\"{r}\" c2=\"{g}\" c3=\"{b}\" c4=\"{a}\"/>\n"
            ));
        }
        x.push_str("    </ColorTable>\n");
        for s in &self.sources {
            x.push_str("    <SimpleSource>\n");
            x.push_str(&format!(
                "      <SourceFilename relativeToVRT=\"1\">{}</SourceFilename>\n",
                escape_xml(&s.file)
            ));
            x.push_str("      <SourceBand>1</SourceBand>\n");
            x.push_str(&format!(
                "      <SrcRect xOff=\"0\" yOff=\"0\" xSize=\"{}\" ySize=\"{}\"/>\n",
                s.width, s.height
            ));
            x.push_str(&format!(
                "      <DstRect xOff=\"{}\" yOff=\"{}\" xSize=\"{}\" ySize=\"{}\"/>\n",
                s.x, s.y, s.width, s.height
            ));
            x.push_str("    </SimpleSource>\n");
        }
        x.push_str("  </VRTRasterBand>\n</VRTDataset>\n");
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_xml_parses_and_escapes_names() {
        let legend = vec![LegendEntry {
            name: "water & <wet> \"land\"".into(),
            colour: [1, 2, 3],
        }];
        let mosaic = Mosaic {
            width: 10,
            height: 20,
            transform: GeoTransform([500.0, 0.5, 0.0, 900.0, 0.0, -0.5]),
            srs: "EPSG:32633".into(),
            legend: &legend,
            metadata: vec![("MAPSEG_MANIFEST".into(), "{\n \"a\": 1\n}".into())],
            sources: vec![Source {
                file: "part-000000.tif".into(),
                width: 10,
                height: 20,
                x: 0,
                y: 0,
            }],
        };
        let xml = mosaic.to_xml();
        assert!(
            xml.contains("<Category>water &amp; &lt;wet&gt; &quot;land&quot;</Category>"),
            "{xml}"
        );
        assert!(xml.contains("<SRS>EPSG:32633</SRS>"));
        assert!(xml.contains("<GeoTransform>500.0, 0.5, 0.0, 900.0, 0.0, -0.5</GeoTransform>"));
        assert!(xml.contains("<DstRect xOff=\"0\" yOff=\"0\" xSize=\"10\" ySize=\"20\"/>"));
        assert_eq!(xml.matches("<Entry ").count(), 256);
        assert!(xml.contains("<Entry c1=\"0\" c2=\"0\" c3=\"0\" c4=\"0\"/>\n    </ColorTable>"));
    }
}
