//! Connections per peer address, capped so that one host cannot take every slot.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedSemaphorePermit;

/// `ip` as the caps and lists compare it: an IPv4 peer on a dual-stack socket shows up as
/// `::ffff:a.b.c.d`, which is `a.b.c.d`.
#[must_use]
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The client behind a trusted proxy `peer`, from the `X-Forwarded-For` header `values` (in
/// the order they arrived): the right-most address that is not itself in `trusted`, or the
/// left-most when all are. Only the part up to that address is read (what lies left of it
/// came from the client and may be anything). Without a header, or when the part read is not
/// a comma-separated list of IP addresses, the answer is `peer`.
#[must_use]
pub fn forwarded_client<'a>(
    peer: IpAddr,
    values: impl DoubleEndedIterator<Item = &'a [u8]>,
    trusted: &[IpAddr],
) -> IpAddr {
    let mut leftmost = None;
    for value in values.rev() {
        let Ok(value) = std::str::from_utf8(value) else {
            return peer;
        };
        for hop in value.rsplit(',') {
            let Ok(ip) = hop.trim().parse::<IpAddr>() else {
                return peer;
            };
            let ip = canonical(ip);
            if !trusted.contains(&ip) {
                return ip;
            }
            leftmost = Some(ip);
        }
    }
    leftmost.unwrap_or(peer)
}

/// Open connections per IP address. The map holds only addresses with a connection open, so
/// its size is bounded by the global connection cap.
#[derive(Debug)]
pub struct IpLimits {
    max: usize,
    exempt: Vec<IpAddr>,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's slot for its address (none for an exempt address); freed on drop.
#[derive(Debug)]
pub struct IpPermit {
    limits: Arc<IpLimits>,
    ip: Option<IpAddr>,
}

impl IpLimits {
    /// At most `max` connections per address, except from the `exempt` addresses.
    #[must_use]
    pub fn new(max: usize, exempt: Vec<IpAddr>) -> Self {
        Self {
            max,
            exempt,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// A slot for `ip`, or `None` when it has `max` connections open.
    pub fn acquire(self: &Arc<Self>, ip: IpAddr) -> Option<IpPermit> {
        let ip = canonical(ip);
        if self.exempt.contains(&ip) {
            return Some(IpPermit {
                limits: Arc::clone(self),
                ip: None,
            });
        }
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_insert(0);
        if *n >= self.max {
            if *n == 0 {
                open.remove(&ip);
            }
            return None;
        }
        *n += 1;
        Some(IpPermit {
            limits: Arc::clone(self),
            ip: Some(ip),
        })
    }

    /// Connections open from `ip`.
    #[must_use]
    pub fn open(&self, ip: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.get(&ip).copied().unwrap_or(0)
    }
}

impl Drop for IpPermit {
    fn drop(&mut self) {
        let Some(ip) = self.ip else {
            return;
        };
        let mut open = self.limits.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&ip);
            }
        }
    }
}

/// Everything a connection holds while it is open: its slot under the global cap and its slot
/// under its address's cap.
#[derive(Debug)]
pub struct ConnPermit {
    _global: OwnedSemaphorePermit,
    ip: IpPermit,
}

impl ConnPermit {
    /// Bundles the two slots.
    #[must_use]
    pub fn new(global: OwnedSemaphorePermit, ip: IpPermit) -> Self {
        Self {
            _global: global,
            ip,
        }
    }

    /// The client's address, when per-address limits apply to it (`None` for an exempt one).
    #[must_use]
    pub fn limited_ip(&self) -> Option<IpAddr> {
        self.ip.ip
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    #[test]
    fn the_forwarded_client_is_the_right_most_untrusted_address() {
        let proxy = ip("10.0.0.5");
        let trusted = [proxy, ip("10.0.0.6")];
        let client = |values: &[&str]| {
            forwarded_client(proxy, values.iter().map(|v| v.as_bytes()), &trusted)
        };
        assert_eq!(client(&["203.0.113.7"]), ip("203.0.113.7"), "one hop");
        assert_eq!(
            client(&["198.51.100.1, 203.0.113.7"]),
            ip("203.0.113.7"),
            "what the client wrote itself (left) is not believed"
        );
        assert_eq!(
            client(&["203.0.113.7, 10.0.0.6"]),
            ip("203.0.113.7"),
            "trusted hops are skipped"
        );
        assert_eq!(
            client(&["203.0.113.7", "10.0.0.6"]),
            ip("203.0.113.7"),
            "repeated headers are one list"
        );
        assert_eq!(
            client(&["garbage, 203.0.113.7"]),
            ip("203.0.113.7"),
            "garbage left of the client is never read"
        );
        assert_eq!(
            client(&["10.0.0.6, 10.0.0.5"]),
            ip("10.0.0.6"),
            "all trusted: the left-most"
        );
        assert_eq!(
            client(&["::ffff:203.0.113.7"]),
            ip("203.0.113.7"),
            "IPv4-mapped addresses are IPv4"
        );
        assert_eq!(client(&[]), proxy, "no header: the proxy");
        for bad in [
            "",
            "203.0.113.7:4000",
            "203.0.113.7,",
            "not an address",
            "[::1]",
        ] {
            assert_eq!(client(&[bad]), proxy, "{bad:?}: malformed, the proxy");
        }
        assert_eq!(
            forwarded_client(proxy, [&b"\xff\xfe"[..]].into_iter(), &trusted),
            proxy,
            "not UTF-8: the proxy"
        );
    }

    #[test]
    fn slots_are_counted_per_address_and_freed() {
        let limits = Arc::new(IpLimits::new(
            2,
            vec!["127.0.0.1".parse().expect("an address")],
        ));
        let a: IpAddr = "127.0.0.2".parse().expect("an address");
        let b: IpAddr = "127.0.0.3".parse().expect("an address");
        let first = limits.acquire(a).expect("first slot");
        let _second = limits.acquire(a).expect("second slot");
        assert!(
            limits.acquire(a).is_none(),
            "a third from the same address is refused"
        );
        assert!(
            limits.acquire(b).is_some(),
            "another address has its own slots"
        );
        drop(first);
        assert!(
            limits.acquire(a).is_some(),
            "a freed slot can be taken again"
        );
        assert_eq!(limits.open(b), 0, "dropped permits leave no entry behind");
        let local: IpAddr = "127.0.0.1".parse().expect("an address");
        let many: Vec<_> = (0..10).filter_map(|_| limits.acquire(local)).collect();
        assert_eq!(many.len(), 10, "an exempt address is not capped");
    }
}
