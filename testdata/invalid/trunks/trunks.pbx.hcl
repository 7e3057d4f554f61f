variable "pw" {
  type    = string
  default = "from-a-plain-variable"
}

trunk "carrier" {
  host     = "sip.carrier.example"
  username = "harbour"    # a username is not a secret: plain text is fine
  password = "hunter2"    # ERROR: Secret written in config
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

locals {
  pw = "from-a-local"
}

variable "spare_user" {
  type      = string
  default   = "spare"
  sensitive = true
}

trunk "spare" {
  host     = "sip.spare.example"
  username = upper(var.spare_user) # ERROR: Trunk username not a variable
  password = local.pw # ERROR: Trunk password not a variable
}
