//! Authentication (RFC 1661 §3.5): PAP (RFC 1334), CHAP-MD5 (RFC 1994), MS-CHAPv1 (RFC 2433),
//! MS-CHAPv2 (RFC 2759) and EAP (RFC 3748) with EAP-MD5 and EAP-MSCHAPv2, in both roles.
//!
//! The authenticator owns no user database: it emits an [`AuthRequest`] carrying what the peer
//! sent and takes a [`Verdict`] back, so local users and RADIUS plug in the same way. For local
//! users, [`AuthRequest::verify_password`] and [`AuthRequest::accept_with_password`] do the
//! method's arithmetic.

pub(crate) mod authenticator;
pub mod crypto;
pub(crate) mod peer;

use std::net::Ipv4Addr;

use zeroize::Zeroizing;

pub use crypto::MppeKeys;

/// An authentication method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// PAP (RFC 1334): the password in the clear. Acceptable only under IPsec.
    Pap,
    /// CHAP with MD5 (RFC 1994).
    ChapMd5,
    /// MS-CHAP version 1 (RFC 2433).
    MsChapV1,
    /// MS-CHAP version 2 (RFC 2759): what Windows, macOS, iOS and Android use by default.
    MsChapV2,
    /// EAP (RFC 3748) with EAP-MD5 or EAP-MSCHAPv2.
    Eap,
}

/// What the peer proved, per method.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// PAP: the password as sent.
    Pap {
        /// The password.
        password: Zeroizing<Vec<u8>>,
    },
    /// CHAP-MD5 or EAP-MD5: MD5(identifier ++ secret ++ challenge) (RFC 1994 §4.1).
    Chap {
        /// The identifier of the Challenge.
        identifier: u8,
        /// The challenge we sent.
        challenge: Vec<u8>,
        /// The peer's response.
        response: [u8; 16],
    },
    /// MS-CHAPv1 (RFC 2433): the NT-Response to our 8-octet challenge.
    MsChapV1 {
        /// Our challenge.
        challenge: [u8; 8],
        /// The peer's NT-Response.
        nt_response: [u8; 24],
    },
    /// MS-CHAPv2 (RFC 2759), directly or inside EAP.
    MsChapV2 {
        /// Our 16-octet challenge.
        authenticator_challenge: [u8; 16],
        /// The peer's challenge.
        peer_challenge: [u8; 16],
        /// The peer's NT-Response.
        nt_response: [u8; 24],
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a password.
        match self {
            Self::Pap { .. } => f.write_str("Pap { password: <redacted> }"),
            Self::Chap { identifier, .. } => write!(f, "Chap {{ identifier: {identifier}, .. }}"),
            Self::MsChapV1 { .. } => f.write_str("MsChapV1 { .. }"),
            Self::MsChapV2 { .. } => f.write_str("MsChapV2 { .. }"),
        }
    }
}

/// A request to decide whether a peer may log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRequest {
    /// Identifies this request in [`crate::Link::complete_auth`].
    pub id: u64,
    /// How the peer authenticated.
    pub method: AuthMethod,
    /// The user name the peer gave (as sent, possibly "DOMAIN\\user").
    pub user: String,
    /// What it proved.
    pub credentials: Credentials,
}

/// The answer to an [`AuthRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Log in.
    Accept(Accept),
    /// Refuse, with a message for the peer (PAP Nak, CHAP Failure, MS-CHAP "M=").
    Reject {
        /// The message.
        message: Option<String>,
    },
}

/// What comes with an acceptance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accept {
    /// The address the peer gets (RADIUS Framed-IP-Address, or the pool's).
    pub peer_ip: Option<Ipv4Addr>,
    /// MS-CHAPv2 only: the authenticator response "S=<40 hex>" (RFC 2759 §8.7), computed from
    /// the password or handed back by RADIUS (MS-CHAP2-Success).
    pub authenticator_response: Option<String>,
    /// A message for the peer.
    pub message: Option<String>,
    /// MPPE keys where MS-CHAP was used (RFC 3079), for whoever needs them.
    pub mppe: Option<MppeKeys>,
}

/// The user part of "DOMAIN\\user", as RFC 2759 §8.2 hashes it.
pub fn user_without_domain(user: &[u8]) -> &[u8] {
    match user.iter().rposition(|&b| b == b'\\') {
        Some(i) => &user[i + 1..],
        None => user,
    }
}

impl AuthRequest {
    /// Whether the credentials prove knowledge of `password`.
    pub fn verify_password(&self, password: &str) -> bool {
        use subtle_eq as eq;
        match &self.credentials {
            Credentials::Pap { password: sent } => eq(sent, password.as_bytes()),
            Credentials::Chap {
                identifier,
                challenge,
                response,
            } => eq(
                &crypto::chap_md5_response(*identifier, password.as_bytes(), challenge),
                response,
            ),
            Credentials::MsChapV1 {
                challenge,
                nt_response,
            } => eq(
                &crypto::mschapv1_nt_response(challenge, password),
                nt_response,
            ),
            Credentials::MsChapV2 {
                authenticator_challenge,
                peer_challenge,
                nt_response,
            } => {
                let expected = crypto::generate_nt_response(
                    authenticator_challenge,
                    peer_challenge,
                    user_without_domain(self.user.as_bytes()),
                    password,
                );
                eq(&expected, nt_response)
            }
        }
    }

    /// The verdict for a local user whose password is `password`: Accept with what the
    /// method needs (the MS-CHAPv2 authenticator response, MPPE keys), or Reject.
    pub fn accept_with_password(&self, password: &str, peer_ip: Option<Ipv4Addr>) -> Verdict {
        if !self.verify_password(password) {
            return Verdict::Reject {
                message: Some("Authentication failed".into()),
            };
        }
        let mut accept = Accept {
            peer_ip,
            ..Accept::default()
        };
        if let Credentials::MsChapV2 {
            authenticator_challenge,
            peer_challenge,
            nt_response,
        } = &self.credentials
        {
            let hash = crypto::nt_password_hash(password);
            accept.authenticator_response = Some(crypto::generate_authenticator_response(
                &hash,
                nt_response,
                peer_challenge,
                authenticator_challenge,
                user_without_domain(self.user.as_bytes()),
            ));
            accept.mppe = Some(crypto::mppe_keys_mschapv2(
                &crypto::hash_nt_password_hash(&hash),
                nt_response,
                true,
            ));
        }
        Verdict::Accept(accept)
    }
}

/// Constant-time equality of two byte strings (lengths are not secret).
fn subtle_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
