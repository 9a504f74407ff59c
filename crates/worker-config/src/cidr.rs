//! An address block such as `10.0.0.0/8` or `::1/128`; a bare address is a block of one.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An address block, written as given (`10.1.2.3/8` keeps its host bits when shown) and
/// compared on its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr(IpNet);

impl Cidr {
    /// Whether `addr` lies in the block. An IPv4 address and its IPv4-mapped IPv6 form
    /// (`::ffff:10.1.2.3`, how a dual-stack listener sees an IPv4 peer) are one address:
    /// either form matches an IPv4 block and a block inside `::ffff:0:0/96` alike. A wider
    /// IPv6 block (`::/0`, or `::ffff:1.2.3.4/8`) covers IPv6 peers only.
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            v4 => v4,
        };
        self.as_ipv4().unwrap_or(self.0).contains(&addr)
    }

    /// A block inside `::ffff:0:0/96` as the IPv4 block it stands for.
    fn as_ipv4(&self) -> Option<IpNet> {
        let IpNet::V6(block) = self.0 else { return None };
        let v4 = block.addr().to_ipv4_mapped()?;
        let prefix = block.prefix_len().checked_sub(96)?;
        IpNet::new(IpAddr::V4(v4), prefix).ok()
    }
}

impl FromStr for Cidr {
    type Err = String;

    /// The address is read by the standard library rather than by ipnet's own parser, which
    /// takes leading zeros (`010.0.0.0/8`) that other tools read as octal: a block must mean
    /// one thing.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not an address or CIDR block: give one such as 10.0.0.0/8 or 192.168.1.5");
        let block = match s.trim().split_once('/') {
            Some((addr, prefix)) => {
                let addr: IpAddr = addr.parse().map_err(|_| bad())?;
                let prefix: u8 = prefix.parse().map_err(|_| bad())?;
                IpNet::new(addr, prefix).map_err(|_| bad())?
            }
            None => IpNet::from(s.trim().parse::<IpAddr>().map_err(|_| bad())?),
        };
        Ok(Cidr(block))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.0.addr(), self.0.prefix_len())
    }
}

impl Serialize for Cidr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Cidr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_contain_their_addresses_only() {
        assert!(cidr("10.0.0.0/8").contains("10.200.3.4".parse().unwrap()));
        assert!(!cidr("10.0.0.0/8").contains("11.0.0.1".parse().unwrap()));
        assert!(cidr("192.168.1.5").contains("192.168.1.5".parse().unwrap()));
        assert!(!cidr("192.168.1.5").contains("192.168.1.6".parse().unwrap()));
        assert!(cidr("0.0.0.0/0").contains("8.8.8.8".parse().unwrap()));
        assert!(cidr("fd00::/8").contains("fd12::1".parse().unwrap()));
        assert!(!cidr("fd00::/8").contains("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn mapped_ipv4_peers_match_ipv4_blocks() {
        assert!(cidr("127.0.0.0/8").contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!cidr("127.0.0.0/8").contains("::ffff:128.0.0.1".parse().unwrap()));
    }

    #[test]
    fn blocks_written_in_the_mapped_form_match_both_forms() {
        let block = cidr("::ffff:10.0.0.0/104");
        assert!(block.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(block.contains("10.1.2.3".parse().unwrap()));
        assert!(!block.contains("11.1.2.3".parse().unwrap()));
        assert!(cidr("::ffff:127.0.0.1").contains("::ffff:127.0.0.1".parse().unwrap()));
        // A wider IPv6 block is not an IPv4 one, as before: IPv4 peers are not in ::/0.
        assert!(!cidr("::/0").contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(cidr("::/0").contains("fd00::1".parse().unwrap()));
    }

    #[test]
    fn bad_blocks_are_refused() {
        for bad in ["10.0.0.0/33", "10.0.0/8", "example.com", "::1/129", "1.2.3.4/x", "010.0.0.0/8", "10.0.0.0/", "/8", ""] {
            assert_eq!(
                bad.parse::<Cidr>(),
                Err(format!("{bad:?} is not an address or CIDR block: give one such as 10.0.0.0/8 or 192.168.1.5")),
                "{bad}"
            );
        }
    }

    #[test]
    fn blocks_are_shown_and_serialized_as_given() {
        for (given, shown) in
            [("10.1.2.3/8", "10.1.2.3/8"), (" 192.168.1.5 ", "192.168.1.5/32"), ("::1", "::1/128"), ("fd00::/8", "fd00::/8")]
        {
            let block = cidr(given);
            assert_eq!(block.to_string(), shown);
            let json = serde_json::to_string(&block).unwrap();
            assert_eq!(json, format!("{shown:?}"));
            assert_eq!(serde_json::from_str::<Cidr>(&json).unwrap(), block);
        }
        assert!(serde_json::from_str::<Cidr>("\"10.0.0.0/33\"").is_err());
    }
}
