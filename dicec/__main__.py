from dicec.cli import main

main()
