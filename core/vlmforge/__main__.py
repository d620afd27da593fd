from vlmforge.cli import main

main()
