//! Which address a request may be dialled to.
//!
//! A grant names origins by host name, but what a connection reaches is an
//! address, and a name's owner decides what it resolves to. So the host
//! resolves the name itself, refuses any answer in a range that reaches
//! the host or its network (loopback, private, link-local with the cloud
//! metadata address, unspecified, multicast, broadcast) unless the grant
//! names that address literally, and then dials exactly the address it
//! checked ([`super::tls::TlsClient::pinned_agent`]): a second, different
//! DNS answer is never asked for, so it cannot swap the destination.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

/// Name resolution, replaceable so tests control what a name resolves to.
pub trait Resolve: fmt::Debug + Send + Sync {
    fn lookup(&self, host: &str, port: u16) -> io::Result<Vec<IpAddr>>;
}

/// The operating system's resolver (getaddrinfo).
#[derive(Debug, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn lookup(&self, host: &str, port: u16) -> io::Result<Vec<IpAddr>> {
        Ok((host, port).to_socket_addrs()?.map(|a| a.ip()).collect())
    }
}

/// The range an address falls in that a role may not reach by name, if any.
pub fn internal_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => internal_v4(v4),
            None => internal_v6(v6),
        },
    }
}

fn internal_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    Some(if ip.is_loopback() {
        "loopback (127.0.0.0/8)"
    } else if ip == Ipv4Addr::new(169, 254, 169, 254) {
        "link-local: the cloud metadata address"
    } else if ip.is_link_local() {
        "link-local (169.254.0.0/16)"
    } else if ip.is_private() {
        "private (RFC 1918)"
    } else if a == 0 {
        "unspecified (0.0.0.0/8)"
    } else if a == 100 && (64..128).contains(&b) {
        "shared address space (100.64.0.0/10)"
    } else if ip.is_multicast() {
        "multicast (224.0.0.0/4)"
    } else if ip.is_broadcast() {
        "broadcast"
    } else if a >= 240 {
        "reserved (240.0.0.0/4)"
    } else {
        return None;
    })
}

fn internal_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    Some(if ip.is_loopback() {
        "loopback (::1)"
    } else if ip.is_unspecified() {
        "unspecified (::)"
    } else if first & 0xfe00 == 0xfc00 {
        "unique local (fc00::/7)"
    } else if first & 0xffc0 == 0xfe80 {
        "link-local (fe80::/10)"
    } else if ip.is_multicast() {
        "multicast (ff00::/8)"
    } else {
        return None;
    })
}

/// Why no address was chosen.
#[derive(Debug)]
pub enum EgressError {
    /// The name resolved to an address in an internal range that the grant
    /// does not name.
    Internal {
        addr: SocketAddr,
        range: &'static str,
    },
    /// The name did not resolve.
    Unresolved { host: String, reason: String },
}

/// The one address to dial for `host:port`. `named_literally` says whether
/// the grant names an address as an origin of its own; such an address is
/// allowed whatever its range. `localhost` is loopback by definition
/// (RFC 6761) and never asked of the resolver.
pub fn choose(
    host: &url::Host<&str>,
    port: u16,
    resolver: &dyn Resolve,
    named_literally: impl Fn(SocketAddr) -> bool,
) -> Result<SocketAddr, EgressError> {
    let name = match host {
        url::Host::Ipv4(ip) => return Ok(SocketAddr::new(IpAddr::V4(*ip), port)),
        url::Host::Ipv6(ip) => return Ok(SocketAddr::new(IpAddr::V6(*ip), port)),
        url::Host::Domain(name) if name.eq_ignore_ascii_case("localhost") => {
            return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))
        }
        url::Host::Domain(name) => *name,
    };
    let answers = resolver
        .lookup(name, port)
        .map_err(|e| EgressError::Unresolved {
            host: name.to_string(),
            reason: e.to_string(),
        })?;
    let first = *answers.first().ok_or_else(|| EgressError::Unresolved {
        host: name.to_string(),
        reason: "no addresses".into(),
    })?;
    // Every answer must pass: a name that answers with an internal address
    // at all is treated as pointed at the host, whichever answer comes first.
    for ip in &answers {
        let addr = SocketAddr::new(*ip, port);
        if let Some(range) = internal_range(*ip) {
            if !named_literally(addr) {
                return Err(EgressError::Internal { addr, range });
            }
        }
    }
    Ok(SocketAddr::new(first, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_the_issue_names_are_internal_and_public_ones_are_not() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.1.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            let ip: IpAddr = internal.parse().unwrap();
            assert!(
                internal_range(ip).is_some(),
                "{internal} should be internal"
            );
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "172.32.0.1"] {
            let ip: IpAddr = public.parse().unwrap();
            assert_eq!(internal_range(ip), None, "{public} should be public");
        }
    }
}
