from msr_oci.cli import main

main()
