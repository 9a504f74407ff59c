//! Kubernetes resource quantities (`250m`, `1`, `512Mi`, `1.5G`) and the requests and limits
//! given as `kubectl set resources` takes them: `cpu=250m,memory=512Mi`.
//!
//! A quantity is kept as the text given, which is what goes into the manifest, and as a
//! number of thousandths, so that a request can be compared with its limit exactly.

use std::fmt;

use super::Error;

/// A quantity: its text, and its value in thousandths of a unit (of a CPU, of a byte).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quantity {
    text: String,
    milli: u128,
}

/// The suffixes Kubernetes accepts, each with what one of it is worth in thousandths:
/// binary (`Ki` to `Ei`), decimal (`k` to `E`), `m` for thousandths, and none for units.
const SUFFIXES: [(&str, u128); 14] = [
    ("Ki", 1_000 << 10),
    ("Mi", 1_000 << 20),
    ("Gi", 1_000 << 30),
    ("Ti", 1_000 << 40),
    ("Pi", 1_000 << 50),
    ("Ei", 1_000 << 60),
    ("m", 1),
    ("", 1_000),
    ("k", 1_000 * 1_000),
    ("M", 1_000 * 1_000_000),
    ("G", 1_000 * 1_000_000_000),
    ("T", 1_000 * 1_000_000_000_000),
    ("P", 1_000 * 1_000_000_000_000_000),
    ("E", 1_000 * 1_000_000_000_000_000_000),
];

const MIB: u128 = 1 << 20;

impl Quantity {
    /// Parse a non-negative quantity: a decimal number and an optional suffix (see
    /// [`SUFFIXES`]). Exponents (`1e3`) and signs are refused: nobody sizes a web app so.
    pub fn parse(text: &str) -> Result<Quantity, Error> {
        let invalid = || Error::Quantity(text.to_owned());
        let split = text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len());
        let (number, suffix) = text.split_at(split);
        let (_, factor) = SUFFIXES.iter().find(|(s, _)| *s == suffix).ok_or_else(invalid)?;
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() || fraction.contains('.') || whole.len() + fraction.len() > 24 {
            return Err(invalid());
        }
        let digits: u128 = format!("{whole}{fraction}").parse().map_err(|_| invalid())?;
        let scale = 10u128.pow(fraction.len() as u32);
        let scaled = digits.checked_mul(*factor).ok_or_else(invalid)?;
        // Kubernetes rounds a fraction of its smallest unit up, and so does the comparison.
        Ok(Quantity { text: text.to_owned(), milli: scaled.div_ceil(scale) })
    }

    /// Whole CPUs, or thousandths of one (`250m`), as warp writes what it derives.
    pub fn cpu_millis(millis: u64) -> Quantity {
        let text = if millis % 1000 == 0 { (millis / 1000).to_string() } else { format!("{millis}m") };
        Quantity { text, milli: millis.into() }
    }

    /// Bytes rounded up to whole MiB (`384Mi`, `2Gi`), as warp writes what it derives.
    pub fn memory_bytes(bytes: u64) -> Quantity {
        let mib = u128::from(bytes).div_ceil(MIB);
        let text = if mib % 1024 == 0 { format!("{}Gi", mib / 1024) } else { format!("{mib}Mi") };
        Quantity { text, milli: mib * MIB * 1_000 }
    }

    /// The value in thousandths of a unit.
    pub fn milli(&self) -> u128 {
        self.milli
    }

    /// The value in whole units, rounded up (CPUs for `auto` workers, bytes).
    pub fn units_ceil(&self) -> u128 {
        self.milli.div_ceil(1_000)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The resources warp sets: what a web app's container needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    Cpu,
    Memory,
}

impl Resource {
    /// Its name in a manifest.
    pub fn name(self) -> &'static str {
        match self {
            Resource::Cpu => "cpu",
            Resource::Memory => "memory",
        }
    }
}

/// Requests or limits as given: `cpu=250m,memory=512Mi`, either or both.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Amounts {
    pub cpu: Option<Quantity>,
    pub memory: Option<Quantity>,
}

impl Amounts {
    /// Parse `cpu=Q,memory=Q` (either may be left out, neither given twice).
    pub fn parse(text: &str) -> Result<Amounts, Error> {
        let mut amounts = Amounts::default();
        for item in text.split(',') {
            let (name, value) = item.split_once('=').ok_or_else(|| Error::Amounts(text.to_owned()))?;
            let slot = match name.trim() {
                "cpu" => &mut amounts.cpu,
                "memory" => &mut amounts.memory,
                _ => return Err(Error::Amounts(text.to_owned())),
            };
            if slot.is_some() {
                return Err(Error::Amounts(text.to_owned()));
            }
            *slot = Some(Quantity::parse(value.trim())?);
        }
        Ok(amounts)
    }

    /// The amount of `resource`, if given.
    pub fn get(&self, resource: Resource) -> Option<&Quantity> {
        match resource {
            Resource::Cpu => self.cpu.as_ref(),
            Resource::Memory => self.memory.as_ref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn milli(text: &str) -> u128 {
        Quantity::parse(text).unwrap_or_else(|e| panic!("{text}: {e}")).milli()
    }

    #[test]
    fn quantities_are_compared_in_thousandths() {
        assert_eq!(milli("250m"), 250);
        assert_eq!(milli("1"), 1_000);
        assert_eq!(milli("1.5"), 1_500);
        assert_eq!(milli(".5"), 500);
        assert_eq!(milli("0.0001"), 1, "a fraction of a thousandth rounds up");
        assert_eq!(milli("512Mi"), 512 * (1 << 20) * 1_000);
        assert_eq!(milli("1.5Gi"), 3 * (1 << 29) * 1_000);
        assert_eq!(milli("2k"), 2_000_000);
        assert_eq!(milli("1G"), 1_000_000_000_000);
        assert!(milli("1Gi") > milli("1G"));
        assert_eq!(Quantity::parse("1.5Gi").unwrap().to_string(), "1.5Gi");
    }

    #[test]
    fn malformed_quantities_are_refused() {
        for text in ["", "-1", "+1", "1.2.3", ".", "1 Gi", "1gi", "1mi", "1e3", "Mi", "1KiB", "1,5", "99999999999999999999999999Ei"] {
            let err = Quantity::parse(text).unwrap_err();
            assert!(err.to_string().contains("is not a Kubernetes quantity"), "{text:?}: {err}");
        }
    }

    #[test]
    fn derived_amounts_are_written_in_round_units() {
        assert_eq!(Quantity::cpu_millis(250).to_string(), "250m");
        assert_eq!(Quantity::cpu_millis(2000).to_string(), "2");
        assert_eq!(Quantity::memory_bytes(208 << 20).to_string(), "208Mi");
        assert_eq!(Quantity::memory_bytes((1 << 30) + 1).to_string(), "1025Mi");
        assert_eq!(Quantity::memory_bytes(2 << 30).to_string(), "2Gi");
        assert_eq!(Quantity::memory_bytes(2 << 30).milli(), milli("2Gi"));
    }

    #[test]
    fn amounts_read_as_kubectl_set_resources_takes_them() {
        let both = Amounts::parse("cpu=500m,memory=1Gi").unwrap();
        assert_eq!(both.get(Resource::Cpu).map(Quantity::to_string).as_deref(), Some("500m"));
        assert_eq!(both.get(Resource::Memory).map(Quantity::to_string).as_deref(), Some("1Gi"));
        assert_eq!(Amounts::parse("memory=256Mi").unwrap().cpu, None);
        for bad in ["cpu", "gpu=1", "cpu=1,cpu=2", "cpu=1;memory=2Gi"] {
            assert!(Amounts::parse(bad).is_err(), "{bad}");
        }
        assert!(Amounts::parse("cpu=lots").unwrap_err().to_string().contains("\"lots\""));
    }
}
