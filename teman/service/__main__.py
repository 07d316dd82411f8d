from teman.service.app import main

main()
