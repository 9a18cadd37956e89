"""Session: login, TLS verification, bad credentials, re-login after the session is killed, rotation."""

from __future__ import annotations

import hashlib
import ssl

import pytest
from vcsim_world import PASSWORD, USERNAME, Vcsim

from herder.errors import AuthenticationFailed, TLSVerificationFailed, Unreachable
from herder.providers.types import Credentials, TLSSettings
from herder.providers.vcenter import Session, VCenterProvider
from herder.reasons import Health
from herder_dev.pki import ensure_ca
from herder_dev.processes import free_port


def _fingerprint(pem: str, algorithm: str) -> str:
    return hashlib.new(algorithm, ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


def test_login_and_info(provider: VCenterProvider, vcsim: Vcsim) -> None:
    info = provider.endpoint.info()
    about = vcsim.govc_json("about", "-json")["about"]
    assert info.version == about["version"]
    assert info.instance_uuid == about["instanceUuid"]
    assert provider.endpoint.request_counts()["Login"] == 1


def test_bad_password_is_authentication_failed(vcsim: Vcsim) -> None:
    p = vcsim.provider(password="wrong-password")
    with pytest.raises(AuthenticationFailed) as failure:
        p.endpoint.info()
    assert f"user '{USERNAME}'" in str(failure.value)
    assert "wrong-password" not in str(failure.value)
    assert failure.value.reason.health is Health.STALLED  # a person must fix the credentials
    p.close()


def test_wrong_ca_is_tls_failure(vcsim: Vcsim, tmp_path_factory: pytest.TempPathFactory) -> None:
    other_ca = ensure_ca(tmp_path_factory.mktemp("other-ca")).cert.read_text()
    p = vcsim.provider(tls=TLSSettings(ca_bundle=other_ca))
    with pytest.raises(TLSVerificationFailed, match="CA bundle"):
        p.endpoint.info()
    p.close()


def test_no_ca_means_system_trust_which_rejects_the_test_ca(vcsim: Vcsim) -> None:
    p = vcsim.provider(tls=TLSSettings())
    with pytest.raises(TLSVerificationFailed):
        p.endpoint.info()
    p.close()


@pytest.mark.parametrize("algorithm", ["sha1", "sha256"])
def test_thumbprint_pin(vcsim: Vcsim, algorithm: str) -> None:
    digest = _fingerprint(vcsim.cert_pem, algorithm)
    with_colons = ":".join(digest[i : i + 2] for i in range(0, len(digest), 2)).upper()
    p = vcsim.provider(tls=TLSSettings(thumbprint=with_colons))
    assert p.endpoint.info().version
    p.close()


def test_wrong_thumbprint_fails(vcsim: Vcsim) -> None:
    p = vcsim.provider(tls=TLSSettings(thumbprint="ab" * 32))
    with pytest.raises(TLSVerificationFailed, match="thumbprint"):
        p.endpoint.info()
    p.close()


def test_insecure_only_when_explicit(vcsim: Vcsim) -> None:
    p = vcsim.provider(tls=TLSSettings(insecure_skip_verify=True))
    assert p.endpoint.info().version
    p.close()


def test_unreachable(vcsim: Vcsim) -> None:
    p = VCenterProvider(Session("127.0.0.1", Credentials(USERNAME, PASSWORD), TLSSettings(ca_bundle=vcsim.ca_pem),
                                "DC0", port=free_port()))
    with pytest.raises(Unreachable):
        p.endpoint.info()
    p.close()


def test_relogin_after_session_is_terminated(provider: VCenterProvider, vcsim: Vcsim) -> None:
    provider.endpoint.info()
    key = provider.endpoint.content.sessionManager.currentSession.key
    vcsim.govc("session.rm", key)
    sessions = vcsim.govc("session.ls")
    assert key not in sessions
    # The next call fails with NotAuthenticated inside, logs in again and succeeds.
    assert provider.endpoint.info().version
    assert provider.endpoint.request_counts()["Login"] == 2
    assert provider.endpoint.content.sessionManager.currentSession.key != key


def test_credential_rotation(provider: VCenterProvider) -> None:
    provider.endpoint.info()
    provider.endpoint.update_credentials(Credentials(USERNAME, "rotated-wrong"))
    with pytest.raises(AuthenticationFailed):
        provider.endpoint.info()
    provider.endpoint.update_credentials(Credentials(USERNAME, PASSWORD))
    assert provider.endpoint.info().version


def test_request_hook_sees_every_call(vcsim: Vcsim) -> None:
    seen: list[tuple[str, bool]] = []
    p = vcsim.provider(on_request=lambda op, ok, seconds: seen.append((op, ok)))
    p.endpoint.info()
    assert ("Login", True) in seen
    assert sum(p.endpoint.request_counts().values()) == len(seen)
    p.close()
