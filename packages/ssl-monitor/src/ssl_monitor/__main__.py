from ssl_monitor.server import main

main()
