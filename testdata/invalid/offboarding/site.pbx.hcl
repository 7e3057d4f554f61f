site "fixture" {
  country         = "IE"
  timezone        = "Europe/Dublin"
  domain          = "fixture.example.net"
  archive_days    = 0 # ERROR: Invalid archive_days
  quarantine_days = 4000 # ERROR: Invalid quarantine_days

  installer {
    company = "Fixture Installers"
    email   = "installer@fixture.example"
  }
}

residence "home" {
  label = "1"
}

trunk "carrier" {
  host                 = "sip.carrier.example"
  numbers              = ["+35315550100", "+35315550101"]
  unassigned           = residence.home
  unassigned_voicemail = true # ERROR: Voicemail for spare numbers without a user
}

trunk "other" {
  host                 = "sip.other.example"
  numbers              = ["+35315550200"]
  unassigned_voicemail = true # ERROR: Voicemail for spare numbers without a user
}

trunk "third" {
  host                 = "sip.third.example"
  numbers              = ["+35315550300"]
  unassigned           = user.quiet
  unassigned_voicemail = true # ERROR: Voicemail for spare numbers without a box
}
