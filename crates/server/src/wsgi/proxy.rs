//! `--trust-proxy-header` and `--trust-proxy`: let a reverse proxy say who the client is.
//!
//! Only a peer in the trusted blocks (any peer, when none are given) may set the client's
//! address (X-Forwarded-For, X-Real-IP), the scheme (X-Forwarded-Proto), the host
//! (X-Forwarded-Host) and the port (X-Forwarded-Port). From any other peer those headers
//! are removed from the environ, so neither warp nor the app believes a spoofed value.

use std::net::IpAddr;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use warp_http::cgi::split_host;
use warp_worker_config::Cidr;

/// What to do with a request's forwarded headers.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict<'a> {
    /// The peer is not trusted: these environ keys are removed, where present.
    Remove(&'a [&'static str]),
    /// The peer is trusted: what its headers say.
    Rewrite(Forwarded),
}

/// The environ values a trusted proxy's headers set; `None` leaves a value as it is.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Forwarded {
    /// `REMOTE_ADDR`: the client.
    pub remote_addr: Option<IpAddr>,
    /// `wsgi.url_scheme` (`http` or `https`; `https` also sets `HTTPS=on`).
    pub scheme: Option<&'static str>,
    /// `HTTP_HOST` and `SERVER_NAME`.
    pub host: Option<(String, String)>,
    /// `SERVER_PORT`: X-Forwarded-Port, else the forwarded host's port.
    pub server_port: Option<String>,
}

pub struct ProxyTrust {
    /// The trusted headers, as environ keys (`HTTP_X_FORWARDED_FOR`, ...).
    keys: Vec<&'static str>,
    trusted: Vec<Cidr>,
}

const FOR: &str = "HTTP_X_FORWARDED_FOR";
const REAL_IP: &str = "HTTP_X_REAL_IP";
const PROTO: &str = "HTTP_X_FORWARDED_PROTO";
const HOST: &str = "HTTP_X_FORWARDED_HOST";
const PORT: &str = "HTTP_X_FORWARDED_PORT";

impl ProxyTrust {
    /// `None` when no header is trusted: nothing to do per request.
    pub fn new(headers: &[String], trusted: &[Cidr]) -> Option<ProxyTrust> {
        let keys: Vec<&'static str> = headers
            .iter()
            .filter_map(|name| match name.as_str() {
                "x-forwarded-for" => Some(FOR),
                "x-real-ip" => Some(REAL_IP),
                "x-forwarded-proto" => Some(PROTO),
                "x-forwarded-host" => Some(HOST),
                "x-forwarded-port" => Some(PORT),
                _ => None,
            })
            .collect();
        (!keys.is_empty()).then(|| ProxyTrust { keys, trusted: trusted.to_vec() })
    }

    fn trusts(&self, addr: IpAddr) -> bool {
        self.trusted.is_empty() || self.trusted.iter().any(|block| block.contains(addr))
    }

    /// Rewrite `env` for a request from `peer`.
    pub fn apply(&self, py: Python<'_>, env: &Bound<'_, PyDict>, peer: IpAddr) -> PyResult<()> {
        let header = |key: &'static str| -> PyResult<Option<String>> { env.get_item(key)?.map(|v| v.extract::<String>()).transpose() };
        match self.judge(peer, header)? {
            Verdict::Remove(keys) => {
                for key in keys {
                    if env.contains(*key)? {
                        env.del_item(*key)?;
                    }
                }
            }
            Verdict::Rewrite(forwarded) => {
                if let Some(ip) = forwarded.remote_addr {
                    env.set_item(intern!(py, "REMOTE_ADDR"), ip.to_string())?;
                }
                if let Some(scheme) = forwarded.scheme {
                    env.set_item(intern!(py, "wsgi.url_scheme"), scheme)?;
                    if scheme == "https" {
                        env.set_item(intern!(py, "HTTPS"), intern!(py, "on"))?;
                    }
                }
                if let Some((host, name)) = &forwarded.host {
                    env.set_item(intern!(py, "HTTP_HOST"), host)?;
                    env.set_item(intern!(py, "SERVER_NAME"), name)?;
                }
                if let Some(port) = &forwarded.server_port {
                    env.set_item(intern!(py, "SERVER_PORT"), port)?;
                }
            }
        }
        Ok(())
    }

    /// What the forwarded headers of a request from `peer` do to its environ. `header`
    /// gives a header's value by its environ key; only trusted headers are asked for.
    pub fn judge<E>(&self, peer: IpAddr, mut header: impl FnMut(&'static str) -> Result<Option<String>, E>) -> Result<Verdict<'_>, E> {
        if !self.trusts(peer) {
            return Ok(Verdict::Remove(&self.keys));
        }
        let mut value = |key: &'static str| -> Result<Option<String>, E> {
            if !self.keys.contains(&key) {
                return Ok(None);
            }
            header(key)
        };
        let mut remote_addr = match value(FOR)? {
            Some(chain) => self.client_in_chain(&chain),
            None => None,
        };
        if remote_addr.is_none() {
            remote_addr = value(REAL_IP)?.and_then(|v| v.trim().parse::<IpAddr>().ok());
        }
        let scheme = value(PROTO)?.and_then(|proto| match first(&proto) {
            s if s.eq_ignore_ascii_case("https") => Some("https"),
            s if s.eq_ignore_ascii_case("http") => Some("http"),
            _ => None,
        });
        let (mut host, mut server_port) = (None, None);
        if let Some(value) = value(HOST)? {
            let value = first(&value);
            if !value.is_empty() {
                let (name, port) = split_host(value);
                server_port = port.map(str::to_owned);
                host = Some((value.to_owned(), name.to_owned()));
            }
        }
        if let Some(port) = value(PORT)? {
            let port = first(&port);
            if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
                server_port = Some(port.to_owned());
            }
        }
        let forwarded = Forwarded { remote_addr, scheme, host, server_port };
        Ok(Verdict::Rewrite(forwarded))
    }

    /// The client in an X-Forwarded-For chain (`client, proxy1, proxy2`). With trusted
    /// blocks given, the chain is read from the right, skipping the trusted proxies: the
    /// first address they did not vouch for is the client, so a client cannot prepend a
    /// forged address. With none given, every peer is trusted and the leftmost is taken.
    fn client_in_chain(&self, chain: &str) -> Option<IpAddr> {
        let hops: Vec<IpAddr> = chain.split(',').filter_map(|hop| hop.trim().parse().ok()).collect();
        if self.trusted.is_empty() {
            return hops.first().copied();
        }
        hops.iter().rev().find(|hop| !self.trusts(**hop)).or(hops.first()).copied()
    }
}

/// The first of a comma-separated list of values (each proxy appends its own).
fn first(list: &str) -> &str {
    list.split(',').next().unwrap_or_default().trim()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::convert::Infallible;

    use super::*;

    const ALL: [&str; 5] = ["x-forwarded-for", "x-real-ip", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port"];

    fn trust(headers: &[&str], blocks: &[&str]) -> ProxyTrust {
        let headers: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
        let blocks: Vec<Cidr> = blocks.iter().map(|b| b.parse().expect("a CIDR block")).collect();
        ProxyTrust::new(&headers, &blocks).expect("some header is trusted")
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    /// The verdict on a request from `peer` with `headers` (environ keys and values).
    fn judge<'a>(trust: &'a ProxyTrust, peer: &str, headers: &[(&'static str, &str)]) -> Verdict<'a> {
        let headers: HashMap<&str, &str> = headers.iter().copied().collect();
        trust.judge(ip(peer), |key| Ok::<_, Infallible>(headers.get(key).map(|v| v.to_string()))).unwrap()
    }

    fn forwarded(trust: &ProxyTrust, peer: &str, headers: &[(&'static str, &str)]) -> Forwarded {
        match judge(trust, peer, headers) {
            Verdict::Rewrite(forwarded) => forwarded,
            Verdict::Remove(keys) => panic!("{peer} is not trusted: {keys:?} removed"),
        }
    }

    fn client(trust: &ProxyTrust, chain: &str) -> Option<IpAddr> {
        forwarded(trust, "10.0.0.1", &[(FOR, chain)]).remote_addr
    }

    #[test]
    fn only_the_forwarding_headers_can_be_trusted() {
        assert!(ProxyTrust::new(&[], &[]).is_none());
        assert!(ProxyTrust::new(&["x-custom".to_owned(), "forwarded".to_owned()], &[]).is_none(), "nothing to do per request");
        let all = trust(&ALL, &[]);
        assert_eq!(all.keys, [FOR, REAL_IP, PROTO, HOST, PORT]);
    }

    #[test]
    fn an_untrusted_peer_has_every_trusted_header_removed_unread() {
        let trust = trust(&["x-forwarded-for", "x-forwarded-proto"], &["10.0.0.0/8", "2001:db8::/32"]);
        for peer in ["192.0.2.1", "11.0.0.1", "2001:db9::1"] {
            let verdict = trust
                .judge(ip(peer), |key| -> Result<Option<String>, Infallible> { panic!("{key} was read from untrusted {peer}") })
                .unwrap();
            assert_eq!(verdict, Verdict::Remove(&[FOR, PROTO]), "{peer}");
        }
        assert!(matches!(judge(&trust, "2001:db8::5", &[]), Verdict::Rewrite(_)));
    }

    #[test]
    fn with_trusted_blocks_the_chain_is_read_from_the_right_skipping_trusted_hops() {
        let trust = trust(&["x-forwarded-for"], &["10.0.0.0/8", "127.0.0.1/32"]);
        // The client prepended a forged address; the trusted proxies vouch only for 203.0.113.9.
        assert_eq!(client(&trust, "198.51.100.7, 203.0.113.9, 10.1.1.1, 127.0.0.1"), Some(ip("203.0.113.9")));
        assert_eq!(client(&trust, "203.0.113.9"), Some(ip("203.0.113.9")));
        assert_eq!(client(&trust, " 2001:db8::7 ,10.2.2.2"), Some(ip("2001:db8::7")));
        // Hops that are not addresses are skipped.
        assert_eq!(client(&trust, "203.0.113.9, unknown, 10.1.1.1"), Some(ip("203.0.113.9")));
        // Every hop is a trusted proxy: the leftmost is the client.
        assert_eq!(client(&trust, "10.0.0.5, 10.0.0.6"), Some(ip("10.0.0.5")));
        assert_eq!(client(&trust, "garbage"), None);
        assert_eq!(client(&trust, ""), None);
    }

    #[test]
    fn with_no_blocks_every_peer_is_trusted_and_the_leftmost_hop_is_the_client() {
        let trust = trust(&["x-forwarded-for"], &[]);
        assert_eq!(forwarded(&trust, "192.0.2.1", &[(FOR, "198.51.100.7, 203.0.113.9")]).remote_addr, Some(ip("198.51.100.7")));
    }

    #[test]
    fn x_real_ip_counts_when_the_chain_names_no_client() {
        let trust = trust(&["x-forwarded-for", "x-real-ip"], &[]);
        assert_eq!(forwarded(&trust, "10.0.0.1", &[(REAL_IP, " 203.0.113.9 ")]).remote_addr, Some(ip("203.0.113.9")));
        assert_eq!(forwarded(&trust, "10.0.0.1", &[(FOR, "junk"), (REAL_IP, "203.0.113.9")]).remote_addr, Some(ip("203.0.113.9")));
        assert_eq!(forwarded(&trust, "10.0.0.1", &[(FOR, "198.51.100.7"), (REAL_IP, "203.0.113.9")]).remote_addr, Some(ip("198.51.100.7")));
        assert_eq!(forwarded(&trust, "10.0.0.1", &[(REAL_IP, "nope")]).remote_addr, None);
    }

    #[test]
    fn a_header_that_is_not_trusted_is_ignored_even_from_a_trusted_peer() {
        let trust = trust(&["x-forwarded-proto"], &[]);
        let headers = [(FOR, "203.0.113.9"), (REAL_IP, "203.0.113.9"), (HOST, "evil.example"), (PROTO, "https")];
        assert_eq!(forwarded(&trust, "10.0.0.1", &headers), Forwarded { scheme: Some("https"), ..Forwarded::default() });
    }

    #[test]
    fn the_scheme_is_the_first_value_and_only_http_or_https() {
        let trust = trust(&["x-forwarded-proto"], &[]);
        let scheme = |value| forwarded(&trust, "10.0.0.1", &[(PROTO, value)]).scheme;
        assert_eq!(scheme("HTTPS, http"), Some("https"));
        assert_eq!(scheme(" http"), Some("http"));
        assert_eq!(scheme("ftp"), None);
        assert_eq!(scheme(""), None);
    }

    #[test]
    fn the_host_sets_name_and_port_and_x_forwarded_port_wins() {
        let trust = trust(&["x-forwarded-host", "x-forwarded-port"], &[]);
        let got = forwarded(&trust, "10.0.0.1", &[(HOST, "shop.example.com:8443, internal:80")]);
        assert_eq!(got.host, Some(("shop.example.com:8443".to_owned(), "shop.example.com".to_owned())));
        assert_eq!(got.server_port.as_deref(), Some("8443"));
        let got = forwarded(&trust, "10.0.0.1", &[(HOST, "shop.example.com:8443"), (PORT, "443")]);
        assert_eq!(got.server_port.as_deref(), Some("443"));
        let got = forwarded(&trust, "10.0.0.1", &[(HOST, "shop.example.com"), (PORT, "44x")]);
        assert_eq!((got.host.map(|h| h.1), got.server_port), (Some("shop.example.com".to_owned()), None));
        assert_eq!(forwarded(&trust, "10.0.0.1", &[(HOST, " ")]), Forwarded::default());
    }
}
