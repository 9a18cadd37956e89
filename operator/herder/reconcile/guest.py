"""What an ECS tells its guest OS at first boot: spec.guest and the image's OS family turned into a backend-neutral
GuestSetup, the Secrets it needs, and what an image of the other OS family cannot take. Pure: the Secrets are
read by the controller, at the create only (customization is a first-boot action, so a rotated Secret or a
changed spec.guest does not customize an existing server again)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from herder.api.ecs import Guest
from herder.providers import limits
from herder.providers.types import GuestSetup, Login, VMSpec
from herder.reasons import Reason

#: NetBIOS keeps 15 characters of a Windows computer name.
WINDOWS_NAME_LENGTH = 15
USER_DATA = "spec.guest.userData"
SYSPREP = "spec.guest.sysprep"
ADMINISTRATOR = "spec.guest.windows.administrator"
DOMAIN_JOIN = "spec.guest.windows.domainJoin"


@dataclass(frozen=True)
class SecretRead:
    """One Secret the guest setup needs: which field names it, which keys, and the reason a missing one gives."""

    field: str
    secret: str
    keys: tuple[str, ...]
    reason: Reason


def setup(guest: Guest | None, *, windows: bool, name: str) -> GuestSetup:
    """The guest setup without its Secrets (see `with_secrets`)."""
    hostname = (guest.hostname if guest and guest.hostname else name)
    if guest is None:
        return GuestSetup(windows=windows, hostname=hostname[:WINDOWS_NAME_LENGTH] if windows else hostname)
    win = guest.windows
    return GuestSetup(
        windows=windows, hostname=hostname[:WINDOWS_NAME_LENGTH] if windows else hostname,
        dns_domain=guest.dns_domain, ssh_keys=tuple(guest.ssh_authorized_keys or ()),
        time_zone=win.time_zone if win else None, product_key=win.product_key if win else None,
        organization=win.organization if win else None, domain=win.domain if win else None,
        workgroup=win.workgroup if win else None, first_logon=tuple(win.first_logon_commands or ()) if win else (),
    )


def mismatch(guest: Guest | None, *, windows: bool) -> str | None:
    """Why the image's OS family cannot take these settings; None when it can."""
    if guest is None:
        return None
    linux_only = [f for f, v in (("userData", guest.user_data), ("sshAuthorizedKeys", guest.ssh_authorized_keys),
                                 ("dnsDomain", guest.dns_domain)) if v]
    windows_only = [f for f, v in (("windows", guest.windows), ("sysprep", guest.sysprep)) if v]
    if windows and linux_only:
        return f"spec.guest: {', '.join(linux_only)} are Linux settings, and the image is Windows"
    if not windows and windows_only:
        return f"spec.guest: {', '.join(windows_only)} are Windows settings, and the image is Linux"
    return None


def refusal(guest: Guest | None, spec: VMSpec) -> str | None:
    """Why the server cannot be made as asked: guest settings the image's OS family or the zone's backend cannot take,
    or NICs the backend cannot make (herder.providers.limits); None when it can. A first-boot matter: an existing
    server is never customized again, so this holds for a create only."""
    backend = limits.backend_of(spec.placement)
    family = mismatch(guest, windows=spec.guest.windows)
    if family is not None:
        return family
    if guest is not None:
        carried = limits.guest_refusal(backend, user_data=guest.user_data is not None,
                                       sysprep=guest.sysprep is not None, ssh_keys=len(guest.ssh_authorized_keys or ()))
        if carried is not None:
            return carried
    return limits.nics_refusal(backend, spec.networks)


def secret_reads(guest: Guest | None) -> tuple[SecretRead, ...]:
    """The Secrets (of the ECS's namespace) the guest setup needs."""
    if guest is None:
        return ()
    reads: list[SecretRead] = []
    if guest.user_data is not None:
        reads.append(SecretRead(USER_DATA, guest.user_data.name, (guest.user_data.key or "userData",),
                                Reason.USER_DATA_UNAVAILABLE))
    if guest.sysprep is not None:
        reads.append(SecretRead(SYSPREP, guest.sysprep.name, (guest.sysprep.key or "unattend.xml",),
                                Reason.USER_DATA_UNAVAILABLE))
    windows = guest.windows
    if windows is not None and windows.administrator is not None:
        reads.append(SecretRead(ADMINISTRATOR, windows.administrator.name, (windows.administrator.key or "password",),
                                Reason.CREDENTIALS_UNAVAILABLE))
    if windows is not None and windows.domain_join is not None:
        reads.append(SecretRead(DOMAIN_JOIN, windows.domain_join.name, ("username", "password"),
                                Reason.CREDENTIALS_UNAVAILABLE))
    return tuple(reads)


def with_secrets(base: GuestSetup, values: Mapping[str, Mapping[str, str]]) -> GuestSetup:
    """`base` with what `secret_reads` read, by field ({field: {key: value}})."""

    def one(field: str) -> str | None:  # the one key read for this field
        got = values.get(field)
        return next(iter(got.values())) if got else None

    join = values.get(DOMAIN_JOIN)
    return replace(base, user_data=one(USER_DATA), unattend=one(SYSPREP), admin_password=one(ADMINISTRATOR),
                   domain_join=Login(join["username"], join["password"]) if join else None)
