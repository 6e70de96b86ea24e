//! A GDAL VRT mosaic of label GeoTIFFs, written by hand so that it keeps what `gdalbuildvrt`
//! drops (class names, the manifest, the band description) and places every source at whole
//! pixel offsets computed once (no resampling from a rounded origin).

use engine::geotiff::GeoTransform;
use engine::labels::{LegendEntry, NODATA};

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
        x.push_str(&format!("  <SRS>{}</SRS>\n", escape(&self.srs)));
        let t = self.transform.0;
        x.push_str(&format!(
            "  <GeoTransform>{:?}, {:?}, {:?}, {:?}, {:?}, {:?}</GeoTransform>\n",
            t[0], t[1], t[2], t[3], t[4], t[5]
        ));
        x.push_str("  <Metadata>\n");
        for (key, value) in &self.metadata {
            x.push_str(&format!(
                "    <MDI key=\"{}\">{}</MDI>\n",
                escape(key),
                escape(value)
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
                escape(&entry.name)
            ));
        }
        x.push_str("    </CategoryNames>\n");
        x.push_str("    <ColorTable>\n");
        for i in 0..256 {
            let [r, g, b] = self.legend.get(i).map_or([0, 0, 0], |e| e.colour);
            x.push_str(&format!(
                "      <Entry c1=\"{r}\" c2=\"{g}\" c3=\"{b}\" c4=\"255\"/>\n"
            ));
        }
        x.push_str("    </ColorTable>\n");
        for s in &self.sources {
            x.push_str("    <SimpleSource>\n");
            x.push_str(&format!(
                "      <SourceFilename relativeToVRT=\"1\">{}</SourceFilename>\n",
                escape(&s.file)
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

/// `s` with XML's special characters escaped (text and attribute values alike).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            c => out.push(c),
        }
    }
    out
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
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let category = doc
            .descendants()
            .find(|n| n.has_tag_name("Category"))
            .unwrap();
        assert_eq!(category.text(), Some("water & <wet> \"land\""));
        let mdi = doc.descendants().find(|n| n.has_tag_name("MDI")).unwrap();
        assert_eq!(mdi.text(), Some("{\n \"a\": 1\n}"));
        assert_eq!(
            doc.descendants()
                .filter(|n| n.has_tag_name("Entry"))
                .count(),
            256
        );
    }
}
