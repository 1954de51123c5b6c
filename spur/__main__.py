from spur.cli import main

main()
