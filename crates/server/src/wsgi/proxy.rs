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
        if !self.trusts(peer) {
            for key in &self.keys {
                if env.contains(*key)? {
                    env.del_item(*key)?;
                }
            }
            return Ok(());
        }
        let value = |key: &'static str| -> PyResult<Option<String>> {
            if !self.keys.contains(&key) {
                return Ok(None);
            }
            env.get_item(key)?.map(|v| v.extract::<String>()).transpose()
        };
        let client = match value(FOR)? {
            Some(chain) => self.client_in_chain(&chain),
            None => None,
        };
        let client = match client {
            Some(ip) => Some(ip),
            None => value(REAL_IP)?.and_then(|v| v.trim().parse::<IpAddr>().ok()),
        };
        if let Some(ip) = client {
            env.set_item(intern!(py, "REMOTE_ADDR"), ip.to_string())?;
        }
        if let Some(proto) = value(PROTO)? {
            let scheme = first(&proto).to_ascii_lowercase();
            if scheme == "https" || scheme == "http" {
                env.set_item(intern!(py, "wsgi.url_scheme"), &scheme)?;
                if scheme == "https" {
                    env.set_item(intern!(py, "HTTPS"), intern!(py, "on"))?;
                }
            }
        }
        if let Some(host) = value(HOST)? {
            let host = first(&host);
            if !host.is_empty() {
                env.set_item(intern!(py, "HTTP_HOST"), host)?;
                let (name, port) = split_host(host);
                env.set_item(intern!(py, "SERVER_NAME"), name)?;
                if let Some(port) = port {
                    env.set_item(intern!(py, "SERVER_PORT"), port)?;
                }
            }
        }
        if let Some(port) = value(PORT)? {
            let port = first(&port);
            if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
                env.set_item(intern!(py, "SERVER_PORT"), port)?;
            }
        }
        Ok(())
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
