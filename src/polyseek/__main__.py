from polyseek.cli.app import main

main()
