site "second" { # ERROR: Duplicate site
  country  = "IE"
  timezone = "Europe/Dublin"
  domain   = "second.example.net"
  installer {
    company = "Other Installers"
    email   = "installer@other.example"
  }
}
