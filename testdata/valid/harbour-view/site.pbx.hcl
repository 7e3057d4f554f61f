# A site written like the normative example in DESIGN.md, with a little of
# everything the check pass knows about. It must validate without a single
# diagnostic.

variable "trunk_user" {
  type      = string
  default   = "harbour"
  sensitive = true
}

variable "trunk_password" {
  type      = string
  default   = "not-a-real-password"
  sensitive = true
}

site "harbour-view" {
  name                 = "Harbour View Apartments"
  country              = "IE"
  timezone             = "Europe/Dublin"
  domain               = "harbour-view.example.net"
  auto_extensions_from = 200

  installer {
    company = "Dublin Door Systems"
    email   = "support@dds.example"
    phone   = "+35315559999"
  }

  features {
    voicemail = "*97"
  }
}

trunk "carrier" {
  host       = "sip.carrier.example"
  username   = var.trunk_user
  password   = var.trunk_password
  numbers    = ["+35315550100", "+35315550101", "+35315550102", "+35315550203"]
  short_dial = 3
}
