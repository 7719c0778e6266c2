"""Incident notifications through Apprise, with their delivery records in the store.

    targets.py   where notifications go: the settings' URLs and named targets, a watch's
                 `notify`, how a URL is shown (redacted), the network policy for callers' URLs,
                 the log filter that keeps their secrets out of logs
    message.py   what a notification says (title and body, pure)
    sender.py    one send through Apprise, in a worker thread, with its outcome
    outbox.py    `Notifier`: what a transition sends, and the outbox that sends, retries and
                 takes over what a dead process left (one notification per transition)

The watch service (`monitor_common.watches.service`) drives it, so `serve` and the headless
runner send alike: the store records a transition's notifications in the transaction that
records the transition, and the process that recorded them sends them.

Import the submodule you need (`from monitor_common.notify.targets import shown_url`): this
package imports nothing itself, so that the log filter and the redaction cost no start-up time.
"""
