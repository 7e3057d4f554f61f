site "fixture" {
  country  = "IE"
  timezone = "Europe/Dublin"
  domain   = "fixture.example"
  nodes = [
    "sip1.fixture.example",
    "sip2.fixture.example:5080",
    "SIP1.fixture.example:5060", # ERROR: Duplicate node
    "sip3.fixture.example:0",    # ERROR: Invalid node
    "sip3.fixture.example:sip",  # ERROR: Invalid node
    "sip_4.fixture.example",     # ERROR: Invalid node
    "[2001:db8::1]:5060",        # WARNING: More nodes than devices take
    "2001:db8::2",
  ]

  installer {
    company = "Fixture Installers"
    email   = "installer@fixture.example"
  }
}

user "owner" {
  first_name = "Tadhg"
  last_name  = "O'Brien"
  email      = "owner@example.com"
  role       = "owner"
  app        = true
  residence  = residence.apt-1
}

residence "apt-1" {
  label = "1"
}

device "gate" {
  model = "akuvox-r29c"
  mac   = "0C:11:05:12:34:56"
  button "1" { calls = residence.apt-1 }
  relay "door" { dtmf = "#" }
}
