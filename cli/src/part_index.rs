//! Which part an array task labels: `--part`, else the array index its scheduler sets.
//!
//! Every array-job engine runs the same command N times and tells each task its index in a
//! variable of its own. The number of parts is never taken from the scheduler: its counts
//! describe what was submitted (a rerun of tasks 5 and 17 has a count of 2), not the split.

use anyhow::bail;

/// Variables holding a 0-based array index, in the order they are looked at.
const ZERO_BASED: &[&str] = &[
    "MAPSEG_PART",
    "SLURM_ARRAY_TASK_ID",
    "JOB_COMPLETION_INDEX",
    "AWS_BATCH_JOB_ARRAY_INDEX",
    "BATCH_TASK_INDEX",
    "CLOUD_RUN_TASK_INDEX",
];

/// Variables holding a 1-based array index (Grid Engine, PBS/Torque, LSF).
const ONE_BASED: &[&str] = &[
    "SGE_TASK_ID",
    "PBS_ARRAY_INDEX",
    "PBS_ARRAYID",
    "LSB_JOBINDEX",
];

/// The part to label (0-based) and where it came from, for `parts` parts: `flag` when given,
/// else the first array-index variable `var` finds.
pub fn part_index(
    flag: Option<u32>,
    parts: u32,
    var: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<(u32, String)> {
    if parts == 0 {
        bail!("--parts must be at least 1");
    }
    let (index, from) = match flag {
        Some(i) => (i, "--part".to_owned()),
        None => from_scheduler(&var)?,
    };
    if index >= parts {
        bail!(
            "{from} gives part {index}, but there are {parts} parts, numbered 0 to {}",
            parts - 1
        );
    }
    Ok((index, from))
}

fn from_scheduler(var: &impl Fn(&str) -> Option<String>) -> anyhow::Result<(u32, String)> {
    let found = ZERO_BASED
        .iter()
        .map(|&n| (n, false))
        .chain(ONE_BASED.iter().map(|&n| (n, true)))
        .find_map(|(name, one_based)| var(name).map(|v| (name, one_based, v)));
    let Some((name, one_based, value)) = found else {
        bail!(
            "no part given: pass --part I, or run as an array task (Slurm, Kubernetes Indexed Job, AWS Batch, Google Batch, Cloud Run, Grid Engine, PBS or LSF set its index)"
        );
    };
    let Ok(n) = value.trim().parse::<u32>() else {
        bail!("{name}={value:?} is not an array index (is this task part of an array job?)");
    };
    if one_based {
        let Some(index) = n.checked_sub(1) else {
            bail!("{name}=0: this task is not part of an array job ({name} counts from 1)");
        };
        return Ok((index, format!("{name}={n} (1-based)")));
    }
    Ok((n, format!("{name}={n}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn the_flag_wins_over_the_scheduler() {
        let got = part_index(Some(2), 4, env(&[("SLURM_ARRAY_TASK_ID", "3")])).unwrap();
        assert_eq!(got, (2, "--part".to_owned()));
    }

    #[test]
    fn every_scheduler_variable_is_read() {
        for name in ZERO_BASED {
            let pairs: &'static [(&str, &str)] = Box::leak(Box::new([(*name, "3")]));
            assert_eq!(part_index(None, 5, env(pairs)).unwrap().0, 3, "{name}");
        }
        for name in ONE_BASED {
            let pairs: &'static [(&str, &str)] = Box::leak(Box::new([(*name, "3")]));
            let (index, from) = part_index(None, 5, env(pairs)).unwrap();
            assert_eq!(index, 2, "{name} is 1-based");
            assert!(from.contains("1-based"), "{from}");
        }
    }

    #[test]
    fn bad_indices_are_named() {
        let e = part_index(None, 4, env(&[("SLURM_ARRAY_TASK_ID", "4")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "SLURM_ARRAY_TASK_ID=4 gives part 4, but there are 4 parts, numbered 0 to 3"
        );
        let e = part_index(None, 4, env(&[("SGE_TASK_ID", "undefined")])).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("SGE_TASK_ID=\"undefined\" is not an array index")
        );
        let e = part_index(None, 4, env(&[("LSB_JOBINDEX", "0")])).unwrap_err();
        assert!(e.to_string().contains("not part of an array job"), "{e}");
        let e = part_index(None, 4, env(&[])).unwrap_err();
        assert!(e.to_string().starts_with("no part given"), "{e}");
        let e = part_index(Some(0), 0, env(&[])).unwrap_err();
        assert_eq!(e.to_string(), "--parts must be at least 1");
    }
}
