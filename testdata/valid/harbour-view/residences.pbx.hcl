residence "apt-1a" {
  label        = "1A"
  ring         = "simultaneous"
  ring_timeout = "30s"
}

residence "apt-1b" {
  label        = "1B"
  ring         = "sequential"
  ring_timeout = "45s"
  no_answer    = "hangup"
}

residence "apt-2a" {
  label = "2A"
}
