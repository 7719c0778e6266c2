from dns_monitor.server import main

main()
