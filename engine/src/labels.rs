//! Label values and the legend: nodata, the default class colours and names.

/// The label written for nodata pixels in every output.
pub const NODATA: u8 = 255;

/// Distinct colours for the first 20 classes, chosen to stay apart from one another on a map;
/// [`default_colour`] generates the colours of further classes.
const PALETTE: [[u8; 3]; 20] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [188, 189, 34],
    [23, 190, 207],
    [127, 127, 127],
    [174, 199, 232],
    [255, 187, 120],
    [152, 223, 138],
    [255, 152, 150],
    [197, 176, 213],
    [196, 156, 148],
    [247, 182, 210],
    [219, 219, 141],
    [158, 218, 229],
    [57, 59, 121],
];

/// The colour of class `index` in the default legend.
pub fn default_colour(index: usize) -> [u8; 3] {
    if let Some(c) = PALETTE.get(index) {
        return *c;
    }
    // Beyond the table: walk the hue circle by the golden angle, alternating lightness.
    let hue = (index as f64 * 137.507_764) % 360.0;
    let lightness = if index.is_multiple_of(2) { 0.45 } else { 0.65 };
    hsl_to_rgb(hue, 0.65, lightness)
}

/// The default legend: one colour and name per class.
pub fn default_legend(k: usize) -> Vec<LegendEntry> {
    (0..k)
        .map(|i| LegendEntry {
            name: format!("class {}", i + 1),
            colour: default_colour(i),
        })
        .collect()
}

/// One class of the legend.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LegendEntry {
    pub name: String,
    pub colour: [u8; 3],
}

fn hsl_to_rgb(hue: f64, saturation: f64, lightness: f64) -> [u8; 3] {
    let c = (1.0 - (2.0 * lightness - 1.0).abs()) * saturation;
    let h = hue / 60.0;
    let x = c * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = lightness - c / 2.0;
    let to_u8 = |v: f64| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    [to_u8(r), to_u8(g), to_u8(b)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixty_four_distinct_colours() {
        let colours: Vec<[u8; 3]> = (0..64).map(default_colour).collect();
        for (i, a) in colours.iter().enumerate() {
            for b in &colours[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
