from spur.console import main

main()
