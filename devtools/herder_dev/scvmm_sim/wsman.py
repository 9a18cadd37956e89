"""WS-Management SOAP for the Windows Remote Shell, as pywinrm 0.5 sends it and Windows answers."""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "p": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
}
SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
ACTIONS = {
    f"{TRANSFER}/Create": "Create", f"{TRANSFER}/Delete": "Delete", f"{SHELL}/Command": "Command",
    f"{SHELL}/Send": "Send", f"{SHELL}/Receive": "Receive", f"{SHELL}/Signal": "Signal",
}
RESPONSE_ACTIONS = {
    "Create": f"{TRANSFER}/CreateResponse", "Delete": f"{TRANSFER}/DeleteResponse",
    "Command": f"{SHELL}/CommandResponse", "Send": f"{SHELL}/SendResponse",
    "Receive": f"{SHELL}/ReceiveResponse", "Signal": f"{SHELL}/SignalResponse",
}
RESOURCE_CMD = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
TIMED_OUT = 2150858793
_DURATION = re.compile(r"^PT(\d+(?:\.\d+)?)S$")


class WsmanFault(Exception):
    def __init__(self, code: int, subcode: str, reason: str, status: int = 500) -> None:
        super().__init__(reason)
        self.code, self.subcode, self.reason, self.status = code, subcode, reason, status


@dataclass
class Request:
    action: str
    message_id: str
    shell_id: str | None
    timeout: float
    body: ET.Element
    options: dict[str, str] = field(default_factory=dict)


def _text(root: ET.Element, path: str) -> str | None:
    node = root.find(path, NS)
    return node.text.strip() if node is not None and node.text else None


def parse_request(data: bytes) -> Request:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise WsmanFault(2150858817, "w:InvalidMessageInformationHeader", f"Malformed envelope: {exc}") from exc
    action_uri = _text(root, "s:Header/a:Action") or ""
    message_id = _text(root, "s:Header/a:MessageID")
    resource = _text(root, "s:Header/w:ResourceURI")
    body = root.find("s:Body", NS)
    if action_uri not in ACTIONS:
        raise WsmanFault(2150858771, "a:ActionNotSupported", f"The action {action_uri} is not supported.")
    if message_id is None or body is None:
        raise WsmanFault(2150858817, "w:InvalidMessageInformationHeader", "MessageID and Body are required.")
    if resource != RESOURCE_CMD:
        raise WsmanFault(2150858770, "w:InvalidSelectors", f"The resource URI {resource} is not supported.")
    selector = root.find("s:Header/w:SelectorSet/w:Selector[@Name='ShellId']", NS)
    timeout_text = _text(root, "s:Header/w:OperationTimeout") or "PT60S"
    match = _DURATION.match(timeout_text)
    if match is None:
        raise WsmanFault(2150858817, "w:InvalidMessageInformationHeader", f"Bad OperationTimeout {timeout_text}.")
    options = {o.get("Name", ""): (o.text or "").strip()
               for o in root.findall("s:Header/w:OptionSet/w:Option", NS)}
    return Request(ACTIONS[action_uri], message_id, selector.text.strip() if selector is not None and
                   selector.text else None, float(match.group(1)), body, options)


def envelope(action: str, relates_to: str, body: str) -> bytes:
    ns = " ".join(f'xmlns:{k}="{v}"' for k, v in NS.items())
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xml:lang="en-US" {ns}><s:Header>'
        f"<a:Action>{RESPONSE_ACTIONS[action]}</a:Action><a:MessageID>uuid:{uuid.uuid4()}</a:MessageID>"
        "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo></s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def created(shell_id: str, shell_xml: str) -> str:
    return (
        "<x:ResourceCreated><a:Address>http://windows-host:5986/wsman</a:Address><a:ReferenceParameters>"
        f"<w:ResourceURI>{RESOURCE_CMD}</w:ResourceURI><w:SelectorSet>"
        f'<w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet></a:ReferenceParameters>'
        f"</x:ResourceCreated>{shell_xml}"
    )


def shell_description(shell_id: str) -> str:
    return (f"<rsp:Shell><rsp:ShellId>{shell_id}</rsp:ShellId><rsp:ResourceUri>{RESOURCE_CMD}</rsp:ResourceUri>"
            "<rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams>"
            "</rsp:Shell>")


def command_response(command_id: str) -> str:
    return f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>"


def receive_response(command_id: str, chunks: list[tuple[str, str]], done: bool, exit_code: int) -> str:
    cid = quoteattr(command_id)
    streams = "".join(f"<rsp:Stream Name={quoteattr(name)} CommandId={cid}>{data}</rsp:Stream>"
                      for name, data in chunks)
    if done:
        streams += (f'<rsp:Stream Name="stdout" CommandId={cid} End="true"></rsp:Stream>'
                    f'<rsp:Stream Name="stderr" CommandId={cid} End="true"></rsp:Stream>'
                    f'<rsp:CommandState CommandId={cid} State="{SHELL}/CommandState/Done">'
                    f"<rsp:ExitCode>{exit_code}</rsp:ExitCode></rsp:CommandState>")
    else:
        streams += f'<rsp:CommandState CommandId={cid} State="{SHELL}/CommandState/Running"></rsp:CommandState>'
    return f"<rsp:ReceiveResponse>{streams}</rsp:ReceiveResponse>"


def fault(fault_: WsmanFault, relates_to: str | None) -> bytes:
    ns = " ".join(f'xmlns:{k}="{v}"' for k, v in NS.items())
    relates = f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>" if relates_to else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xml:lang="en-US" {ns}><s:Header>'
        "<a:Action>http://schemas.dmtf.org/wbem/wsman/1/wsman/fault</a:Action>"
        f"<a:MessageID>uuid:{uuid.uuid4()}</a:MessageID>{relates}</s:Header><s:Body><s:Fault>"
        f"<s:Code><s:Value>s:Receiver</s:Value><s:Subcode><s:Value>{escape(fault_.subcode)}</s:Value></s:Subcode>"
        f'</s:Code><s:Reason><s:Text xml:lang="en-US">{escape(fault_.reason)}</s:Text></s:Reason><s:Detail>'
        f'<f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" Code="{fault_.code}" '
        f'Machine="127.0.0.1"><f:Message>{escape(fault_.reason)}</f:Message></f:WSManFault></s:Detail>'
        "</s:Fault></s:Body></s:Envelope>"
    ).encode()


def timed_out() -> WsmanFault:
    return WsmanFault(TIMED_OUT, "w:TimedOut", "The WS-Management service cannot complete the operation within "
                      "the time specified in OperationTimeout.")


def unknown_shell(shell_id: str | None) -> WsmanFault:
    return WsmanFault(2150858843, "w:InvalidSelectors",
                      f"The request for the Windows Remote Shell with ShellId {shell_id} failed because the shell "
                      "was not found on the server.")
