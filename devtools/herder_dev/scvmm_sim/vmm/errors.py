"""VMM's errors: CarmineException text that ends in "(Error ID: N)", which drivers match on."""

from __future__ import annotations

from herder_dev.scvmm_sim.ps.errors import PSError, cmdlet_error

NOT_FOUND = 801
BUSY = 1600
INVALID_STATE = 1730

_CATEGORIES = {NOT_FOUND: "ObjectNotFound", BUSY: "ResourceBusy", INVALID_STATE: "InvalidOperation"}
_DEFAULT_TEXT = {
    NOT_FOUND: "VMM cannot find the object. It may have been deleted or the ID is not valid.",
    BUSY: "The object is being used by another job. Wait for that job to complete, and then try again.",
    INVALID_STATE: "The selected action could not be completed because the virtual machine is not in a state "
                   "in which the action is valid.",
}


def vmm_error(error_id: int, text: str | None = None) -> PSError:
    message = f"{text or _DEFAULT_TEXT.get(error_id, 'The operation failed.')} (Error ID: {error_id})"
    return cmdlet_error(message, str(error_id), _CATEGORIES.get(error_id, "NotSpecified"),
                        "Microsoft.VirtualManager.Utils.CarmineException")


def problem_text(error_id: int) -> str:
    return _DEFAULT_TEXT.get(error_id, "The operation failed.")
