from maildesk.cli.main import main

main()
