//! Certificate verification for every TLS connection the host opens.
//!
//! The trust store is Mozilla's root program compiled in (the
//! `webpki-root-certs` crate) plus the CA files a grant or a flag names:
//! the same answer on every machine, pinned by Cargo.lock, and an internal
//! CA is trusted only where the policy says so, not machine-wide. There is
//! no way to switch verification off. rustls speaks TLS 1.2 and 1.3 only.
//!
//! A [`TlsClient`] is built once per trust configuration (per `http` grant,
//! per OpenBao store) and shared by every request made under it, so the
//! rustls client configuration, and its session cache, outlive one call.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    ConnectionDetails, Connector, NextTimeout, RustlsConnector, TcpConnector, Transport,
};

/// Why a CA file cannot serve as a trust anchor.
#[derive(Debug, thiserror::Error)]
pub enum CaFileError {
    #[error("cannot read CA file {}: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("CA file {} is not PEM: {reason}", path.display())]
    NotPem { path: PathBuf, reason: String },
    #[error("CA file {} holds no certificate (a PEM file of `-----BEGIN CERTIFICATE-----` blocks is expected)", path.display())]
    NoCertificate { path: PathBuf },
}

/// The certificates of a PEM file, to be trusted as CAs.
pub fn load_ca_file(path: &Path) -> Result<Vec<Certificate<'static>>, CaFileError> {
    let bytes = std::fs::read(path).map_err(|source| CaFileError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let not_pem = |reason: String| CaFileError::NotPem {
        path: path.to_path_buf(),
        reason,
    };
    if !bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        return Err(not_pem(
            "no `-----BEGIN …-----` line (DER or another format?)".into(),
        ));
    }
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&bytes) {
        match item.map_err(|e| not_pem(e.to_string()))? {
            PemItem::Certificate(cert) => certs.push(cert),
            // A key next to the certificate is not an anchor; ignore it.
            PemItem::PrivateKey(_) => {}
            _ => {}
        }
    }
    if certs.is_empty() {
        return Err(CaFileError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// The trust anchors of every TLS client the host makes: the public roots
/// plus `extra`.
fn anchors(extra: Vec<Certificate<'static>>) -> impl Iterator<Item = Certificate<'static>> {
    webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|der| Certificate::from_der(der.as_ref()).to_owned())
        .chain(extra)
}

/// A bare rustls configuration with the same anchors, for protocols that
/// bring their own client (PostgreSQL). TLS 1.2 and 1.3, no way to skip
/// verification.
pub fn rustls_config(extra: Vec<Certificate<'static>>) -> std::sync::Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(
        anchors(extra).map(|c| rustls::pki_types::CertificateDer::from(c.der().to_vec())),
    );
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    std::sync::Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports TLS 1.2 and 1.3")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// A TLS client configuration: the public roots plus `extra` anchors.
#[derive(Clone)]
pub struct TlsClient {
    config: TlsConfig,
    connector: Arc<RustlsConnector>,
    extra_anchors: usize,
}

impl fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClient")
            .field("extra_anchors", &self.extra_anchors)
            .finish_non_exhaustive()
    }
}

impl Default for TlsClient {
    fn default() -> Self {
        TlsClient::new(Vec::new())
    }
}

impl TlsClient {
    pub fn new(extra: Vec<Certificate<'static>>) -> TlsClient {
        let extra_anchors = extra.len();
        let roots = anchors(extra);
        TlsClient {
            config: TlsConfig::builder()
                .root_certs(RootCerts::from(roots))
                .build(),
            connector: Arc::new(RustlsConnector::default()),
            extra_anchors,
        }
    }

    /// How many anchors came from CA files.
    pub fn extra_anchors(&self) -> usize {
        self.extra_anchors
    }

    fn agent_config(&self, timeout: Duration) -> ureq::config::Config {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            // A redirect would let an allowed origin bounce a request (and
            // its credential) to one that is not: the caller sees the 3xx.
            .max_redirects(0)
            .proxy(None)
            .timeout_global(Some(timeout))
            .tls_config(self.config.clone())
            .build()
    }

    /// An agent that resolves names the usual way: for a server the
    /// operator named (OpenBao), not for a role's destinations.
    pub fn agent(&self, timeout: Duration) -> ureq::Agent {
        ureq::Agent::with_parts(
            self.agent_config(timeout),
            self.connector(),
            ureq::unversioned::resolver::DefaultResolver::default(),
        )
    }

    /// An agent that connects to `addr` and nowhere else, whatever the
    /// URL's host resolves to; the host name still decides SNI and which
    /// name the certificate must carry.
    pub fn pinned_agent(&self, addr: SocketAddr, timeout: Duration) -> ureq::Agent {
        ureq::Agent::with_parts(self.agent_config(timeout), self.connector(), Pinned(addr))
    }

    fn connector(&self) -> impl Connector {
        TcpConnector::default().chain(SharedTls(self.connector.clone()))
    }
}

/// The rustls connector of a [`TlsClient`], shared by all its agents: it
/// builds the rustls configuration on first use and keeps it.
#[derive(Debug)]
struct SharedTls(Arc<RustlsConnector>);

impl<In: Transport> Connector<In> for SharedTls {
    type Out = <RustlsConnector as Connector<In>>::Out;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        self.0.connect(details, chained)
    }
}

#[derive(Debug)]
struct Pinned(SocketAddr);

impl Resolver for Pinned {
    fn resolve(
        &self,
        _uri: &ureq::http::Uri,
        _config: &ureq::config::Config,
        _timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let mut addrs = self.empty();
        addrs.push(self.0);
        Ok(addrs)
    }
}

/// Why a TLS connection was refused, in an operator's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsRefusal {
    /// The server speaks no protocol version agentward accepts (1.2, 1.3).
    OldProtocol,
    /// Not signed by a trusted CA; a self-signed certificate lands here too.
    UnknownIssuer,
    Expired,
    NotYetValid,
    /// Valid, but not for the name (or address) that was dialled.
    WrongName,
    Revoked,
    Other(String),
}

impl TlsRefusal {
    /// A short tag for the audit record.
    pub fn tag(&self) -> &'static str {
        match self {
            TlsRefusal::OldProtocol => "old-protocol",
            TlsRefusal::UnknownIssuer => "unknown-issuer",
            TlsRefusal::Expired => "expired",
            TlsRefusal::NotYetValid => "not-yet-valid",
            TlsRefusal::WrongName => "wrong-name",
            TlsRefusal::Revoked => "revoked",
            TlsRefusal::Other(_) => "invalid",
        }
    }
}

impl fmt::Display for TlsRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsRefusal::OldProtocol => f.write_str(
                "it does not speak TLS 1.2 or 1.3 (agentward accepts nothing older)",
            ),
            TlsRefusal::UnknownIssuer => f.write_str(
                "its certificate is signed by an unknown issuer (not a CA agentward trusts; a self-signed certificate is refused this way)",
            ),
            TlsRefusal::Expired => f.write_str("its certificate has expired"),
            TlsRefusal::NotYetValid => f.write_str("its certificate is not valid yet"),
            TlsRefusal::WrongName => {
                f.write_str("its certificate is not valid for this host name or address")
            }
            TlsRefusal::Revoked => f.write_str("its certificate has been revoked"),
            TlsRefusal::Other(reason) => write!(f, "its certificate is invalid: {reason}"),
        }
    }
}

/// The TLS refusal inside a request error, if that is what it was.
pub fn tls_refusal(error: &ureq::Error) -> Option<TlsRefusal> {
    match error {
        ureq::Error::Rustls(e) => classify(e),
        ureq::Error::Io(io) => classify(io.get_ref()?.downcast_ref::<rustls::Error>()?),
        _ => None,
    }
}

/// The TLS refusal anywhere in `error`'s chain of causes (a client that
/// wraps rustls's error in its own, as tokio-postgres does).
pub fn tls_refusal_in(error: &(dyn std::error::Error + 'static)) -> Option<TlsRefusal> {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(rustls_error) = e.downcast_ref::<rustls::Error>() {
            return classify(rustls_error);
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|i| i.downcast_ref::<rustls::Error>())
        {
            return classify(inner);
        }
        cause = e.source();
    }
    None
}

fn classify(rustls_error: &rustls::Error) -> Option<TlsRefusal> {
    use rustls::CertificateError as C;
    let cert = match rustls_error {
        rustls::Error::InvalidCertificate(cert) => cert,
        rustls::Error::AlertReceived(rustls::AlertDescription::ProtocolVersion)
        | rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::ServerDoesNotSupportTls12Or13,
        )
        | rustls::Error::InvalidMessage(rustls::InvalidMessage::UnknownProtocolVersion) => {
            return Some(TlsRefusal::OldProtocol)
        }
        _ => return None,
    };
    Some(match cert {
        C::UnknownIssuer => TlsRefusal::UnknownIssuer,
        C::Expired | C::ExpiredContext { .. } => TlsRefusal::Expired,
        C::NotValidYet | C::NotValidYetContext { .. } => TlsRefusal::NotYetValid,
        C::NotValidForName | C::NotValidForNameContext { .. } => TlsRefusal::WrongName,
        C::Revoked => TlsRefusal::Revoked,
        other => TlsRefusal::Other(format!("{other:?}")),
    })
}
