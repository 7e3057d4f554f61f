variable "pw" {
  type    = string
  default = "from-a-plain-variable"
}

trunk "carrier" {
  host     = "sip.carrier.example"
  username = "harbour"    # WARNING: Secret written in config
  password = "hunter2"    # WARNING: Secret written in config
  numbers  = ["+35315550100", "+35315"] # ERROR: Invalid phone number
}

trunk "backup" {
  host       = "sip carrier" # ERROR: Invalid host
  port       = 70000         # ERROR: Invalid port
  password   = var.pw        # WARNING: Secret not marked sensitive
  short_dial = 11            # ERROR: Invalid short_dial
  numbers = [
    "+35315550100", # ERROR: Duplicate trunk number
  ]
}
