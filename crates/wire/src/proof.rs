//! How an Apache child proves to a daemon process that it belongs to the
//! same Apache: both inherit a secret that Apache's parent draws when it
//! starts the daemons, the daemon sends a fresh nonce on every connection,
//! and the child answers with an HMAC-SHA256 of it. Another local program,
//! even one running as Apache's user, can connect to the socket but cannot
//! answer, so it cannot pose as Apache (with a forged REMOTE_USER or
//! REMOTE_ADDR) to the application.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::frame::NONCE_LEN;

/// The secret's size.
pub const SECRET_LEN: usize = 32;

/// What binds a proof to this protocol and to the daemon that asked.
const CONTEXT: &[u8] = b"mod_rwsgi daemon connection v1";

fn mac(secret: &[u8; SECRET_LEN], nonce: &[u8; NONCE_LEN], pid: u32) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(CONTEXT);
    mac.update(nonce);
    mac.update(&pid.to_le_bytes());
    mac
}

/// The child's answer to a daemon's challenge.
pub fn prove(secret: &[u8; SECRET_LEN], nonce: &[u8; NONCE_LEN], pid: u32) -> [u8; NONCE_LEN] {
    mac(secret, nonce, pid).finalize().into_bytes().into()
}

/// Whether `proof` answers the challenge (compared in constant time).
pub fn verify(
    secret: &[u8; SECRET_LEN],
    nonce: &[u8; NONCE_LEN],
    pid: u32,
    proof: &[u8; NONCE_LEN],
) -> bool {
    mac(secret, nonce, pid).verify_slice(proof).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proof_of_the_secret_is_accepted() {
        let (secret, nonce) = ([1; SECRET_LEN], [2; NONCE_LEN]);
        assert!(verify(&secret, &nonce, 10, &prove(&secret, &nonce, 10)));
    }

    #[test]
    fn another_secret_nonce_or_daemon_is_refused() {
        let (secret, nonce) = ([1; SECRET_LEN], [2; NONCE_LEN]);
        let proof = prove(&secret, &nonce, 10);
        assert!(!verify(&[3; SECRET_LEN], &nonce, 10, &proof));
        assert!(!verify(&secret, &[4; NONCE_LEN], 10, &proof));
        assert!(!verify(&secret, &nonce, 11, &proof));
        assert!(!verify(&secret, &nonce, 10, &[0; NONCE_LEN]));
    }
}
