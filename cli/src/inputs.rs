//! The rasters a fit or an apply works on: the files given, with a VRT mosaic standing for its
//! GeoTIFF sources.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// `paths` with every `.vrt` replaced by its source files (in the VRT's order, each once),
/// refusing a list in which one file appears twice.
pub fn expand(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = Vec::new();
    for path in paths {
        let is_vrt = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("vrt"));
        let files = if is_vrt {
            vrt_sources(path)?
        } else {
            vec![path.clone()]
        };
        for file in files {
            let key = file.canonicalize().unwrap_or_else(|_| file.clone());
            if out
                .iter()
                .any(|f| f.canonicalize().unwrap_or_else(|_| f.clone()) == key)
            {
                if is_vrt {
                    continue;
                }
                bail!("{} is given twice", file.display());
            }
            out.push(file);
        }
    }
    Ok(out)
}

/// The source files of the VRT at `path`, in order, each once; relative paths are resolved
/// as GDAL does (against the VRT's folder when `relativeToVRT="1"`).
fn vrt_sources(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let doc = roxmltree::Document::parse(&text)
        .with_context(|| format!("{} is not a VRT (XML) file", path.display()))?;
    if doc.root_element().tag_name().name() != "VRTDataset" {
        bail!(
            "{} is not a VRT: its root is not <VRTDataset>",
            path.display()
        );
    }
    let folder = path.parent().unwrap_or(Path::new(""));
    let mut sources: Vec<PathBuf> = Vec::new();
    for node in doc
        .descendants()
        .filter(|n| n.has_tag_name("SourceFilename"))
    {
        let name = node.text().unwrap_or("").trim();
        if name.is_empty() {
            bail!("{} has an empty <SourceFilename>", path.display());
        }
        if name.starts_with("/vsi") || name.contains("://") {
            bail!(
                "{}: the source {name} is not a local file; Mapseg reads local GeoTIFFs",
                path.display()
            );
        }
        let relative = node.attribute("relativeToVRT") == Some("1");
        let file = if relative {
            folder.join(name)
        } else {
            PathBuf::from(name)
        };
        if !sources.contains(&file) {
            sources.push(file);
        }
    }
    if sources.is_empty() {
        bail!("{} has no source files", path.display());
    }
    Ok(sources)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vrt_stands_for_its_sources_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let vrt = dir.path().join("mosaic.vrt");
        std::fs::write(
            &vrt,
            r#"<VRTDataset rasterXSize="20" rasterYSize="10">
  <VRTRasterBand dataType="Byte" band="1">
    <SimpleSource><SourceFilename relativeToVRT="1">b.tif</SourceFilename></SimpleSource>
    <SimpleSource><SourceFilename relativeToVRT="0">/data/a.tif</SourceFilename></SimpleSource>
  </VRTRasterBand>
  <VRTRasterBand dataType="Byte" band="2">
    <SimpleSource><SourceFilename relativeToVRT="1">b.tif</SourceFilename></SimpleSource>
  </VRTRasterBand>
</VRTDataset>"#,
        )
        .unwrap();
        let got = expand(std::slice::from_ref(&vrt)).unwrap();
        assert_eq!(
            got,
            vec![dir.path().join("b.tif"), PathBuf::from("/data/a.tif")]
        );
    }

    #[test]
    fn bad_lists_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let vrt = dir.path().join("bad.vrt");
        std::fs::write(&vrt, "<GDAL_WMS/>").unwrap();
        let e = expand(std::slice::from_ref(&vrt)).unwrap_err();
        assert!(
            e.to_string().contains("its root is not <VRTDataset>"),
            "{e}"
        );
        let a = PathBuf::from("a.tif");
        let e = expand(&[a.clone(), a]).unwrap_err();
        assert_eq!(e.to_string(), "a.tif is given twice");
    }
}
