//! Fuzzes the parsing of `--trust-proxy` blocks: it must never panic, a block must be
//! shown in a form that parses back to itself and contain its own address (an IPv4 one also
//! as an IPv4-mapped IPv6 peer), and a refusal must quote what was given.

#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use warp_worker_config::Cidr;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match text.parse::<Cidr>() {
        Ok(block) => {
            let shown = block.to_string();
            assert_eq!(shown.parse::<Cidr>(), Ok(block), "{text:?} shown as {shown:?}");
            let (addr, _) = shown.split_once('/').expect("a block is shown with its prefix length");
            let addr: IpAddr = addr.parse().expect("a block is shown with its address");
            // A prefix shorter than /96 on an address in the IPv4-mapped form (::ffff:1.2.3.4/8)
            // names IPv6 space, which IPv4 peers are not part of, as they are not of ::/0.
            let reaches_past_the_mapping = matches!(addr, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some())
                && shown.rsplit_once('/').and_then(|(_, prefix)| prefix.parse::<u8>().ok()).is_some_and(|prefix| prefix < 96);
            if !reaches_past_the_mapping {
                assert!(block.contains(addr), "{shown} holds its own address");
            }
            if let IpAddr::V4(v4) = addr {
                assert!(block.contains(IpAddr::V6(v4.to_ipv6_mapped())), "{shown} holds its address as a mapped peer");
            }
        }
        Err(message) => assert!(message.starts_with(&format!("{text:?} is not an address")), "{message}"),
    }
});
