from spur.cli.main import main

main()
