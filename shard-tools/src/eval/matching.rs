//! Cluster-to-class assignments over a confusion matrix `confusion[class][cluster]`.

use pathfinding::kuhn_munkres::kuhn_munkres;
use pathfinding::matrix::Matrix;

/// One-to-one assignment maximising the shared pixels; `result[cluster]` is the class index,
/// `None` for clusters left over when there are more clusters than classes.
pub(super) fn hungarian(confusion: &[Vec<u64>]) -> Vec<Option<usize>> {
    let classes = confusion.len();
    let clusters = confusion.first().map_or(0, Vec::len);
    let mut out = vec![None; clusters];
    if classes == 0 || clusters == 0 {
        return out;
    }
    let weight = |class: usize, cluster: usize| {
        i64::try_from(confusion[class][cluster]).unwrap_or(i64::MAX / 4)
    };
    if clusters <= classes {
        // Rows are clusters: every cluster gets a distinct class.
        let m = Matrix::from_fn(clusters, classes, |(cl, c)| weight(c, cl));
        let (_, assign) = kuhn_munkres(&m);
        for (cluster, class) in assign.into_iter().enumerate() {
            out[cluster] = Some(class);
        }
    } else {
        // Rows are classes: every class gets a distinct cluster, the rest stay unmatched.
        let m = Matrix::from_fn(classes, clusters, |(c, cl)| weight(c, cl));
        let (_, assign) = kuhn_munkres(&m);
        for (class, cluster) in assign.into_iter().enumerate() {
            out[cluster] = Some(class);
        }
    }
    out
}

/// Each cluster to the class it overlaps most (ties to the lowest class).
pub(super) fn majority(confusion: &[Vec<u64>]) -> Vec<Option<usize>> {
    let clusters = confusion.first().map_or(0, Vec::len);
    (0..clusters)
        .map(|cl| {
            let mut best: Option<(usize, u64)> = None;
            for (c, row) in confusion.iter().enumerate() {
                if best.is_none_or(|(_, b)| row[cl] > b) {
                    best = Some((c, row[cl]));
                }
            }
            best.map(|(c, _)| c)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hungarian_square_and_rectangular() {
        // classes x clusters
        let conf = vec![vec![1, 9, 0], vec![8, 2, 0], vec![0, 0, 5]];
        assert_eq!(hungarian(&conf), vec![Some(1), Some(0), Some(2)]);
        // 2 classes, 3 clusters: cluster 2 is left over.
        let conf = vec![vec![1, 9, 3], vec![8, 2, 1]];
        assert_eq!(hungarian(&conf), vec![Some(1), Some(0), None]);
        // 3 classes, 2 clusters.
        let conf = vec![vec![1, 9], vec![8, 2], vec![0, 0]];
        assert_eq!(hungarian(&conf), vec![Some(1), Some(0)]);
    }

    #[test]
    fn majority_many_to_one() {
        let conf = vec![vec![5, 4, 0], vec![1, 0, 3]];
        assert_eq!(majority(&conf), vec![Some(0), Some(0), Some(1)]);
    }
}
