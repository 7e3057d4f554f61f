        site "fixture" {
          country              = "UK"           # ERROR: Unknown country
          timezone             = "Europe/Dubln" # ERROR: Unknown timezone
          domain               = "fixture example" # ERROR: Invalid domain
          auto_extensions_from = "*100"         # ERROR: Invalid auto_extensions_from

          installer {
            company = "Fixture Installers"
            email   = "installer at fixture.example" # ERROR: Invalid email address
            phone   = "01 555 9999"                  # ERROR: Invalid phone number
          }
        }

user "owner" {
  first_name = "Tadhg"
  last_name  = "O'Brien"
  email      = "owner@example.com"
  role       = "owner"
  app        = true
}
