from http_monitor.server import main

main()
