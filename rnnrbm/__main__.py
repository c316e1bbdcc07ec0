from rnnrbm.cli import main

main()
