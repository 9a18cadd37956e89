"""A Microsoft SCVMM simulator: WinRM over HTTPS, a PowerShell subset parsed with tree-sitter, VMM cmdlets."""
