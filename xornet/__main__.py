from xornet.cli import main

main()
