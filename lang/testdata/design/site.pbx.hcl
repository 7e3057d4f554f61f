variable "trunk_user" { default = "hv-100" }
variable "trunk_password" {
  sensitive = true
  default = "s3cret"
}
site "harbour-view" {
  name     = "Harbour View Apartments"
  country  = "IE"                  # emergency numbers and number formats follow from it
  timezone = "Europe/Dublin"
  domain   = "harbour-view.example.net"
  installer {                      # the installer/admin account: binds devices, never answers calls
    company = "Dublin Door Systems"
    email   = "support@dds.example"
  }
}

residence "apt-1a" {
  label        = "1A"              # what a visitor keys or picks on the door panel
  ring         = "simultaneous"    # or "sequential"
  ring_timeout = "30s"
}

user "mary" {
  first_name = "Mary"
  last_name  = "Byrne"
  email      = "mary@example.com"  # login; unique
  mobile     = "+353871234567"
  residence  = residence.apt-1a
  role       = "owner"             # owner | admin | user (default user)
  extension  = 101                 # unique; never an emergency number
  app        = true                # a SmartPlus-style app endpoint of her own
  directory  = true
  voicemail  = true                # on by default
  notify_email     = "mary.work@example.com"
  send_credentials = true
  numbers    = ["+35315550101"]    # DDIs, from a trunk's pool
  conference = 8101                # personal bridge room
  ring_timeout = "25s"
}

device "front-gate" {
  model    = "akuvox-r29c"
  mac      = "0C:11:05:12:34:56"
  location = "Front gate"
  button "1" { calls = residence.apt-1a }
  keypad   = true                  # visitors may key any residence label
  relay "door" {
    dtmf = "#"
    hold = "5s"
  }
}

device "monitor-1a" {
  model     = "akuvox-c315"
  mac       = "0C:11:05:AB:CD:EF"
  residence = residence.apt-1a
}

device "desk-101" {
  model = "yealink-t54w"
  mac   = "80:5E:C0:11:22:33"
  user  = user.mary
}

trunk "carrier" {
  host     = "sip.carrier.example"
  username = var.trunk_user
  password = var.trunk_password    # a sensitive variable: never printed
  numbers  = ["+35315550100", "+35315550101", "+35315550102"]
}
