"""VHD and VHDX files: what makes a file a virtual hard disk (its format signatures, read with dissect), and a
writer of minimal, valid empty disks for the simulator's own library copies and for tests."""

from __future__ import annotations

import io
import struct
import uuid
from dataclasses import dataclass
from pathlib import Path

from dissect.hypervisor.disk.c_vhdx import (
    BAT_REGION_GUID,
    FILE_PARAMETERS_GUID,
    LOGICAL_SECTOR_SIZE_GUID,
    METADATA_REGION_GUID,
    PHYSICAL_SECTOR_SIZE_GUID,
    VIRTUAL_DISK_ID_GUID,
    VIRTUAL_DISK_SIZE_GUID,
)
from dissect.hypervisor.disk.vhd import VHD
from dissect.hypervisor.disk.vhdx import VHDX
from dissect.hypervisor.exceptions import Error as DissectError
from dissect.util.hash.crc32c import crc32c

VHDX_SIGNATURE = b"vhdxfile"  # MS-VHDX 2.2.1: the file type identifier at offset 0
VHD_COOKIE = b"conectix"  # the VHD specification: the cookie that opens the 512-byte footer at the end of the file
EXTENSIONS = (".vhd", ".vhdx")
_KIB, _MIB = 1024, 1024 * 1024
# VHD footer disk types, and the VHDX file parameters' two flags, as VMM's VHDType names them.
_VHD_TYPES = {2: "FixedSize", 3: "DynamicallyExpanding", 4: "Differencing"}


class NotADisk(Exception):
    """The file does not carry a VHD or VHDX format signature, or its structures do not parse."""


@dataclass(frozen=True)
class DiskFile:
    format: str  # VHD or VHDX, as VMM's VHDFormatType names them
    vhd_type: str  # DynamicallyExpanding, FixedSize or Differencing
    maximum_size: int  # the virtual size the guest sees, in bytes
    size: int  # the bytes the file takes on disk


def inspect(path: Path) -> DiskFile:
    """Read a .vhd or .vhdx file's format; NotADisk when it is not one."""
    suffix = path.suffix.lower()
    if suffix not in EXTENSIONS:
        raise NotADisk(f"{path.name} does not have a .vhd or .vhdx extension")
    with path.open("rb") as fh:
        try:
            return _vhdx(fh, path) if suffix == ".vhdx" else _vhd(fh, path)
        except (DissectError, EOFError, ValueError, KeyError, OSError, struct.error) as exc:
            raise NotADisk(f"{path.name} is not a valid virtual hard disk ({type(exc).__name__}: {exc})") from exc


def _vhdx(fh: io.BufferedReader, path: Path) -> DiskFile:
    disk = VHDX(fh)  # dissect checks the "vhdxfile" identifier and the header, region table and metadata signatures
    kind = "Differencing" if disk.has_parent else "DynamicallyExpanding"
    params = disk.metadata.get(FILE_PARAMETERS_GUID)
    if params.leave_block_allocated:
        kind = "FixedSize"
    return DiskFile("VHDX", kind, int(disk.size), path.stat().st_size)


def _vhd(fh: io.BufferedReader, path: Path) -> DiskFile:
    size = path.stat().st_size
    if size < 512:
        raise NotADisk(f"{path.name} is too short for a VHD footer")
    fh.seek(size - 512)
    if fh.read(len(VHD_COOKIE)) != VHD_COOKIE:
        raise NotADisk(f"{path.name} has no VHD footer")
    fh.seek(0)
    disk = VHD(fh)
    kind = _VHD_TYPES.get(int(disk.disk.footer.disk_type))
    if kind is None:
        raise NotADisk(f"{path.name} has an unknown VHD disk type {disk.disk.footer.disk_type}")
    return DiskFile("VHD", kind, int(disk.disk.size), size)


# ---- writing ------------------------------------------------------------------------------------------

def write_vhdx(path: Path, virtual_size: int) -> None:
    """An empty, dynamically expanding VHDX (MS-VHDX): identifier, two headers, two region tables, then an empty
    1 MiB log, the metadata region and the BAT, each 1 MiB aligned."""
    block_size, sector = 32 * _MIB, 512
    metadata_offset, bat_offset = 2 * _MIB, 3 * _MIB
    blocks = -(-virtual_size // block_size)
    chunk_ratio = (2**23 * sector) // block_size
    bat_entries = blocks + (blocks - 1) // chunk_ratio
    bat_length = max(_MIB, -(-bat_entries * 8 // _MIB) * _MIB)
    out = bytearray(bat_offset + bat_length)
    out[0:8] = VHDX_SIGNATURE
    creator = "herder scvmm simulator".encode("utf-16-le")
    out[8:8 + len(creator)] = creator
    for index in (1, 2):
        _put(out, index * 64 * _KIB, _checksummed(_vhdx_header(index), 4 * _KIB))
    table = _region_table([(BAT_REGION_GUID, bat_offset, bat_length, 1),
                           (METADATA_REGION_GUID, metadata_offset, _MIB, 1)])
    for index in (3, 4):
        _put(out, index * 64 * _KIB, table)
    _put(out, metadata_offset, _metadata(virtual_size, block_size, sector))
    path.write_bytes(bytes(out))


def write_vhd(path: Path, virtual_size: int) -> None:
    """A fixed VHD: the zeroed sectors followed by the 512-byte footer."""
    footer = bytearray(512)
    cylinders, heads, sectors = _chs(virtual_size)
    struct.pack_into(">8sIIQI4sI4sQQHBBII16sB", footer, 0, VHD_COOKIE, 2, 0x00010000, 0xFFFFFFFFFFFFFFFF, 0,
                     b"hrdr", 0x000A0000, b"Wi2k", virtual_size, virtual_size, cylinders, heads, sectors, 2, 0,
                     uuid.uuid4().bytes, 0)
    struct.pack_into(">I", footer, 64, ~sum(footer) & 0xFFFFFFFF)
    with path.open("wb") as fh:
        fh.truncate(virtual_size)
        fh.seek(virtual_size)
        fh.write(bytes(footer))


def _put(out: bytearray, offset: int, data: bytes) -> None:
    out[offset:offset + len(data)] = data


def _checksummed(data: bytes, length: int) -> bytes:
    """Pad to length and store the CRC-32C of the whole structure at bytes 4..8, as MS-VHDX requires."""
    padded = bytearray(data.ljust(length, b"\0"))
    struct.pack_into("<I", padded, 4, crc32c(bytes(padded)))
    return bytes(padded)


def _vhdx_header(sequence: int) -> bytes:
    return struct.pack("<4sIQ16s16s16sHHIQ", b"head", 0, sequence, uuid.uuid4().bytes_le,
                       uuid.uuid4().bytes_le, b"\0" * 16, 0, 1, _MIB, _MIB)


def _region_table(entries: list[tuple[uuid.UUID, int, int, int]]) -> bytes:
    data = struct.pack("<4sII4s", b"regi", 0, len(entries), b"\0" * 4)
    for guid, offset, length, required in entries:
        data += struct.pack("<16sQII", guid.bytes_le, offset, length, required)
    return _checksummed(data, 64 * _KIB)


def _metadata(virtual_size: int, block_size: int, sector: int) -> bytes:
    items = [
        (FILE_PARAMETERS_GUID, struct.pack("<II", block_size, 0), 0b100),
        (VIRTUAL_DISK_SIZE_GUID, struct.pack("<Q", virtual_size), 0b110),
        (VIRTUAL_DISK_ID_GUID, uuid.uuid4().bytes_le, 0b110),
        (LOGICAL_SECTOR_SIZE_GUID, struct.pack("<I", sector), 0b110),
        (PHYSICAL_SECTOR_SIZE_GUID, struct.pack("<I", 4096), 0b110),
    ]
    table = struct.pack("<8sHH20s", b"metadata", 0, len(items), b"\0" * 20)
    values, offset = b"", 64 * _KIB  # item data starts after the 64 KiB table
    for guid, value, flags in items:
        table += struct.pack("<16sIII4s", guid.bytes_le, offset + len(values), len(value), flags, b"\0" * 4)
        values += value
    return table.ljust(64 * _KIB, b"\0") + values


def _chs(size: int) -> tuple[int, int, int]:
    """The VHD specification's cylinder/head/sector geometry for a disk size."""
    total = min(size // 512, 65535 * 16 * 255)
    if total >= 65535 * 16 * 63:
        sectors, heads = 255, 16
    else:
        sectors = 17
        heads = max(4, -(-(total // sectors) // 1024))
        if (total // sectors) // heads >= 1024 or heads > 16:
            sectors, heads = 31, 16
        if (total // sectors) // heads >= 1024:
            sectors, heads = 63, 16
    return (total // sectors) // heads, heads, sectors
