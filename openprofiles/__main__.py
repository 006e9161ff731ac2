from openprofiles.cli import main

main()
