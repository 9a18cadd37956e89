"""The simulated VMM: inventory state, jobs, and the cmdlets over them."""
