"""The PowerShell subset the simulator runs: parse with tree-sitter, evaluate with Windows PowerShell 5.1 rules."""
