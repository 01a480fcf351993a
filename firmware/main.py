# Boot entry point on the band (mpremote deploy copies it as main.py).
import band

band.main()
