//! The checks that keep a creator talking to the marketplace they joined: its did:key is the one
//! pinned on first contact, and a sign-in challenge is for the origin actually connected to.

use hallmark_core::did::PublicIdentity;

use crate::error::ClientError;
use crate::origin::Origin;
use crate::wire::{Challenge, MarketplaceInfo};

/// The marketplace's key as `info` names it, refused when it is not `pinned` (trust on first use:
/// with no pin yet, the key named is the one to pin).
pub fn check_identity(
    origin: &Origin,
    pinned: Option<&PublicIdentity>,
    info: &MarketplaceInfo,
) -> Result<PublicIdentity, ClientError> {
    let found: PublicIdentity = info.did.parse().map_err(|e| ClientError::BadResponse {
        url: origin.join("/v1/marketplace"),
        status: 200,
        detail: format!("its did is not a did:key ({e})"),
    })?;
    match pinned {
        Some(pinned) if *pinned != found => Err(ClientError::IdentityChanged {
            origin: origin.to_string(),
            pinned: pinned.to_string(),
            found: found.to_string(),
        }),
        _ => Ok(found),
    }
}

/// Refuses a challenge for any domain but `origin`: a presentation names the domain it signs in
/// to, so a server that passes on another marketplace's challenge would get a sign-in it can
/// replay there.
pub fn check_domain(origin: &Origin, challenge: &Challenge) -> Result<(), ClientError> {
    if challenge.domain == origin.as_str() {
        return Ok(());
    }
    Err(ClientError::WrongDomain {
        origin: origin.to_string(),
        domain: hallmark_core::json::excerpt(&challenge.domain, 200),
    })
}

#[cfg(test)]
mod tests {
    use hallmark_core::did::SigningIdentity;

    use super::*;

    fn info(did: &str) -> MarketplaceInfo {
        MarketplaceInfo {
            did: did.to_owned(),
            public_url: "https://market.example".into(),
            creator_share: "0.8".into(),
            max_shard_bytes: 1 << 30,
            tus_version: "1.0.0".into(),
            version: "0.1.0".into(),
        }
    }

    #[test]
    fn the_first_contact_pins_and_later_ones_must_match() {
        let origin = Origin::parse("https://market.example").unwrap();
        let market = SigningIdentity::generate().public();
        let did = market.to_string();
        assert_eq!(check_identity(&origin, None, &info(&did)).unwrap(), market);
        assert_eq!(
            check_identity(&origin, Some(&market), &info(&did)).unwrap(),
            market
        );

        let other = SigningIdentity::generate().public();
        let refused = check_identity(&origin, Some(&market), &info(&other.to_string()))
            .unwrap_err()
            .to_string();
        assert!(refused.contains("identity changed"), "{refused}");
        assert!(refused.contains(&did), "{refused}");
        assert!(refused.contains(&other.to_string()), "{refused}");
        assert!(refused.contains("https://market.example"), "{refused}");
    }

    #[test]
    fn a_marketplace_without_a_did_key_is_not_a_hallmark_marketplace() {
        let origin = Origin::parse("https://market.example").unwrap();
        let refused = check_identity(&origin, None, &info("did:web:market.example")).unwrap_err();
        assert!(
            matches!(refused, ClientError::BadResponse { .. }),
            "{refused}"
        );
    }

    #[test]
    fn a_challenge_for_another_domain_is_a_relay_and_refused() {
        let origin = Origin::parse("https://evil.example").unwrap();
        let challenge = |domain: &str| Challenge {
            challenge: "n-1".into(),
            domain: domain.into(),
            expires_at: "2026-11-23T10:05:00Z".into(),
        };
        check_domain(&origin, &challenge("https://evil.example")).unwrap();
        for domain in [
            "https://market.example",
            "https://evil.example/",
            "http://evil.example",
        ] {
            let refused = check_domain(&origin, &challenge(domain))
                .unwrap_err()
                .to_string();
            assert!(refused.contains("relay"), "{refused}");
        }
    }
}
