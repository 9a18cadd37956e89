"""`make bench`: benchmarks that print figures and assert nothing, one module per mode.

`vcenter` (the default): N ECSs through herder versus the same clones by a plain pyvmomi script on vcsim;
`scale`: many ECSs on vcsim without clone latency; `scvmm`: creates through the SCVMM simulator versus a plain
pywinrm script, and the cost of the bulk drift read. `herder_run` measures the operator the same way for each.
"""
