"""The guest setup an ECS asks for: spec.guest and the image's OS family, its Secrets, and mismatches."""

from __future__ import annotations

from herder.api.ecs import Guest
from herder.providers.types import GuestSetup, Login
from herder.reasons import Reason
from herder.reconcile import guest


def _guest(**fields: object) -> Guest:
    return Guest.model_validate(fields)


def test_the_host_name_defaults_to_the_object_and_windows_keeps_15_characters() -> None:
    assert guest.setup(None, windows=False, name="web-1") == GuestSetup(hostname="web-1")
    assert guest.setup(None, windows=True, name="a-very-long-server-name").hostname == "a-very-long-ser"
    assert guest.setup(_guest(hostname="db"), windows=False, name="web-1").hostname == "db"


def test_windows_settings_become_the_setup() -> None:
    spec = _guest(hostname="win-01", windows={
        "administrator": {"name": "admin"}, "timeZone": 110, "productKey": "AAAAA-BBBBB-CCCCC-DDDDD-EEEEE",
        "domain": "corp.example", "domainJoin": {"name": "joiner"}, "firstLogonCommands": ["a", "b"]})
    setup = guest.setup(spec, windows=True, name="x")
    assert (setup.windows, setup.hostname, setup.time_zone, setup.domain, setup.first_logon) == (
        True, "win-01", 110, "corp.example", ("a", "b"))
    assert setup.admin_password is None and setup.domain_join is None  # Secrets come only for a create
    reads = guest.secret_reads(spec)
    assert [(r.field, r.secret, r.keys, r.reason) for r in reads] == [
        ("spec.guest.windows.administrator", "admin", ("password",), Reason.CREDENTIALS_UNAVAILABLE),
        ("spec.guest.windows.domainJoin", "joiner", ("username", "password"), Reason.CREDENTIALS_UNAVAILABLE)]
    full = guest.with_secrets(setup, {"spec.guest.windows.administrator": {"password": "Adm1n"},
                                      "spec.guest.windows.domainJoin": {"username": "j", "password": "Pw"}})
    assert full.admin_password == "Adm1n" and full.domain_join == Login("j", "Pw")
    assert set(full.secrets()) == {"Adm1n", "Pw", "AAAAA-BBBBB-CCCCC-DDDDD-EEEEE"}
    assert "Adm1n" not in repr(full) and "Pw" not in repr(full)


def test_linux_settings_and_user_data() -> None:
    spec = _guest(dnsDomain="corp.example", sshAuthorizedKeys=["ssh-ed25519 AAAA key"],
                  userData={"name": "init", "key": "cloud.yaml"})
    setup = guest.setup(spec, windows=False, name="web")
    assert (setup.dns_domain, setup.ssh_keys) == ("corp.example", ("ssh-ed25519 AAAA key",))
    [read] = guest.secret_reads(spec)
    assert (read.secret, read.keys, read.reason) == ("init", ("cloud.yaml",), Reason.USER_DATA_UNAVAILABLE)
    assert guest.with_secrets(setup, {read.field: {"cloud.yaml": "#cloud-config"}}).user_data == "#cloud-config"
    assert guest.secret_reads(_guest(sysprep={"name": "u"}))[0].keys == ("unattend.xml",)


def test_settings_of_the_other_os_family_are_refused() -> None:
    assert guest.mismatch(None, windows=True) is None
    assert guest.mismatch(_guest(hostname="x"), windows=True) is None
    linux = guest.mismatch(_guest(sshAuthorizedKeys=["ssh-rsa AAAA k"]), windows=True)
    assert linux == "spec.guest: sshAuthorizedKeys are Linux settings, and the image is Windows"
    windows = guest.mismatch(_guest(windows={"timeZone": 4}), windows=False)
    assert windows == "spec.guest: windows are Windows settings, and the image is Linux"
